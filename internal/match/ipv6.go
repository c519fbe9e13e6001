package match

// parseIPv6 reads an IPv6 address in text form without a zone: groups of one to four hex digits,
// at most one "::", and optionally a dotted IPv4 address in the last 32 bits. It accepts nothing
// that netip.ParseAddr rejects and gives the same 16 bytes; it may refuse forms netip accepts
// (a zone), which the caller then hands to netip. It does not allocate.
func parseIPv6(v []byte) (ip [16]byte, ok bool) {
	ellipsis := -1 // where "::" is, in bytes of ip
	i, n := 0, 0   // position in v, bytes of ip filled
	if len(v) >= 2 && v[0] == ':' && v[1] == ':' {
		ellipsis, i = 0, 2
		if i == len(v) {
			return ip, true
		}
	}
	for {
		start, x := i, 0
		for i < len(v) && i-start < 4 {
			d := unhex[v[i]]
			if d == 0xff {
				break
			}
			x = x<<4 | int(d)
			i++
		}
		if i == start {
			return ip, false
		}
		if i < len(v) && v[i] == '.' {
			// A dotted IPv4 address ends the address.
			if n > 12 {
				return ip, false
			}
			a, ok := parseIPv4(v[start:])
			if !ok {
				return ip, false
			}
			copy(ip[n:], a[:])
			n += 4
			i = len(v)
			break
		}
		if i < len(v) && unhex[v[i]] != 0xff {
			return ip, false // five hex digits or more
		}
		ip[n], ip[n+1] = byte(x>>8), byte(x)
		n += 2
		if i == len(v) {
			break
		}
		if v[i] != ':' || n == 16 {
			return ip, false
		}
		i++
		if i < len(v) && v[i] == ':' {
			if ellipsis >= 0 {
				return ip, false
			}
			ellipsis = n
			i++
			if i == len(v) {
				break
			}
		} else if i == len(v) {
			return ip, false // a trailing single colon
		}
	}
	switch {
	case n == 16 && ellipsis >= 0:
		return ip, false // "::" must stand for at least one group
	case n < 16 && ellipsis < 0:
		return ip, false
	case n < 16:
		tail := n - ellipsis
		copy(ip[16-tail:], ip[ellipsis:n])
		clear(ip[ellipsis : 16-tail])
	}
	return ip, true
}

// isMapped reports whether ip is an IPv4-mapped address, ::ffff:a.b.c.d.
func isMapped(ip *[16]byte) bool {
	return ip[0]|ip[1]|ip[2]|ip[3]|ip[4]|ip[5]|ip[6]|ip[7]|ip[8]|ip[9] == 0 && ip[10] == 0xff && ip[11] == 0xff
}
