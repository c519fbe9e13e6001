// Package synth generates deterministic test data for the matching engine: a realistic mixed
// indicator set (domains, URLs, IPv4 and IPv6 addresses, CIDR blocks, hashes, email addresses) and
// a realistic mixed log (DNS, proxy, firewall, mail and antivirus lines) of which a chosen share of
// lines carries an indicator. Indicator i of a set is a function of the seed and i alone, so a log
// can be generated against a set without holding the set in memory.
package synth

import (
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"strconv"

	"github.com/renkei-cti/renkei/internal/match"
)

// The mix of kinds in an indicator set, in percent.
var mix = []struct {
	kind match.Kind
	pct  int
}{
	{match.KindDomain, 30}, {match.KindURL, 20}, {match.KindIPv4, 14}, {match.KindIPv6, 2},
	{match.KindCIDR, 3}, {match.KindMD5, 10}, {match.KindSHA1, 5}, {match.KindSHA256, 11},
	{match.KindEmail, 5},
}

var kindOf = func() (t [100]match.Kind) {
	i := 0
	for _, m := range mix {
		for range m.pct {
			t[i] = m.kind
			i++
		}
	}
	return t
}()

const letters = "abcdefghijklmnopqrstuvwxyz"

var tlds = []string{"com", "net", "org", "info", "ru", "cn", "xyz", "top", "io", "biz", "de", "uk"}

func rng(seed, i uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, i*0x9e3779b97f4a7c15+1)) }

func word(r *rand.Rand, b []byte, min, max int) []byte {
	n := min + r.IntN(max-min+1)
	for range n {
		b = append(b, letters[r.IntN(26)])
	}
	return b
}

// indicator domains have a random label of 7–14 letters under a TLD, sometimes below a second
// random label: they are distinct from the benign names of the logs.
func domain(r *rand.Rand, b []byte) []byte {
	if r.IntN(4) == 0 {
		b = word(r, b, 3, 8)
		b = append(b, '.')
	}
	b = word(r, b, 7, 14)
	b = append(b, '.')
	return append(b, tlds[r.IntN(len(tlds))]...)
}

func publicV4(r *rand.Rand) netip.Addr {
	for {
		v := r.Uint32()
		a := byte(v >> 24)
		if a == 0 || a == 10 || a == 127 || a >= 224 || a == 192 || a == 172 {
			continue
		}
		return netip.AddrFrom4([4]byte{a, byte(v >> 16), byte(v >> 8), byte(v)})
	}
}

func v6(r *rand.Rand) netip.Addr {
	var b [16]byte
	b[0], b[1] = 0x20, byte(1+r.IntN(15))
	for i := 2; i < 16; i++ {
		b[i] = byte(r.Uint32())
	}
	return netip.AddrFrom16(b)
}

// Indicator returns indicator i of the set with the given seed, with Ref i.
func Indicator(seed uint64, i int) match.Entry {
	r := rng(seed, uint64(i))
	k := kindOf[r.IntN(100)]
	var b []byte
	switch k {
	case match.KindDomain:
		b = domain(r, make([]byte, 0, 40))
	case match.KindURL:
		b = append(make([]byte, 0, 96), "http://"...)
		if r.IntN(3) == 0 {
			b[4] = 's'
			b = append(b[:5], "://"...)
		}
		b = domain(r, b)
		b = append(b, '/')
		b = word(r, b, 3, 10)
		b = append(b, '/')
		b = word(r, b, 4, 12)
		b = append(b, ".php?id="...)
		b = strconv.AppendUint(b, uint64(r.IntN(100000)), 10)
	case match.KindIPv4:
		b = publicV4(r).AppendTo(nil)
	case match.KindIPv6:
		b = v6(r).AppendTo(nil)
	case match.KindCIDR:
		if r.IntN(5) == 0 {
			b = netip.PrefixFrom(v6(r), 48+r.IntN(17)).Masked().AppendTo(nil)
		} else {
			b = netip.PrefixFrom(publicV4(r), 27+r.IntN(5)).Masked().AppendTo(nil)
		}
	case match.KindMD5, match.KindSHA1, match.KindSHA256:
		n := map[match.Kind]int{match.KindMD5: 16, match.KindSHA1: 20, match.KindSHA256: 32}[k]
		raw := make([]byte, n)
		for j := range raw {
			raw[j] = byte(r.Uint32())
		}
		b = hex.AppendEncode(nil, raw)
	case match.KindEmail:
		b = word(r, make([]byte, 0, 40), 4, 10)
		b = append(b, '@')
		b = domain(r, b)
	}
	return match.Entry{Kind: k, Value: string(b), Ref: uint32(i)}
}

// Indicators calls fn for indicators 0 to n-1.
func Indicators(n int, seed uint64, fn func(match.Entry) error) error {
	for i := range n {
		if err := fn(Indicator(seed, i)); err != nil {
			return err
		}
	}
	return nil
}

var benign = []string{"google.com", "www.google.com", "fonts.gstatic.com", "login.microsoftonline.com",
	"outlook.office365.com", "www.bing.com", "update.microsoft.com", "graph.facebook.com", "api.github.com",
	"github.com", "cdn.jsdelivr.net", "s3.amazonaws.com", "www.wikipedia.org", "slack.com",
	"zoom.us", "clients4.google.com", "ocsp.digicert.com", "safebrowsing.googleapis.com", "www.youtube.com",
	"i.ytimg.com", "static.cloudflareinsights.com", "ajax.googleapis.com", "www.linkedin.com",
	"teams.microsoft.com", "mail.example.org", "intranet.corp.example", "wpad.corp.example"}

var subs = []string{"www", "api", "cdn", "static", "img", "edge", "ws", "app"}

// Log writes n lines of a mixed text log against the indicator set (nind, seed). hitPct is the
// share of lines, in percent, that carry an indicator value. It returns the number of lines
// written with an indicator.
func Log(w io.Writer, lines int, nind int, seed uint64, hitPct float64) (int, error) {
	b := make([]byte, 0, 64<<10)
	planted := 0
	for j := range lines {
		r := rng(seed^0x5bd1e995, uint64(j))
		var ind match.Entry
		hit := nind > 0 && r.Float64()*100 < hitPct
		if hit {
			ind = Indicator(seed, r.IntN(nind))
			planted++
		}
		b = line(b, r, j, hit, ind)
		if len(b) > 60<<10 {
			if _, err := w.Write(b); err != nil {
				return planted, err
			}
			b = b[:0]
		}
	}
	_, err := w.Write(b)
	return planted, err
}

func stamp(b []byte, j int) []byte {
	s := j / 1000
	return fmt.Appendf(b, "Nov 23 %02d:%02d:%02d ", 6+s/3600%12, s/60%60, s%60)
}

func benignHost(r *rand.Rand, b []byte) []byte {
	if r.IntN(3) == 0 {
		b = append(b, subs[r.IntN(len(subs))]...)
		b = append(b, '.')
	}
	return append(b, benign[r.IntN(len(benign))]...)
}

func privV4(r *rand.Rand) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(r.IntN(4)), byte(r.IntN(256)), byte(1 + r.IntN(254))})
}

func line(b []byte, r *rand.Rand, j int, hit bool, ind match.Entry) []byte {
	// Choose the line type from the indicator's kind, or at random.
	typ := r.IntN(100)
	if hit {
		switch ind.Kind {
		case match.KindDomain:
			typ = 0
		case match.KindURL:
			typ = 45
		case match.KindIPv4, match.KindIPv6, match.KindCIDR:
			typ = 75
		case match.KindEmail:
			typ = 92
		default:
			typ = 97
		}
	}
	switch {
	case typ < 40: // DNS query log (dnsmasq)
		b = stamp(b, j)
		b = fmt.Appendf(b, "dnsmasq[%d]: query[%s] ", 400+r.IntN(100), []string{"A", "AAAA", "HTTPS", "A"}[r.IntN(4)])
		if hit {
			if r.IntN(2) == 0 {
				b = append(b, subs[r.IntN(len(subs))]...)
				b = append(b, '.')
			}
			b = append(b, ind.Value...)
		} else {
			b = benignHost(r, b)
		}
		b = append(b, " from "...)
		b = privV4(r).AppendTo(b)
	case typ < 70: // proxy (squid access.log)
		b = fmt.Appendf(b, "%d.%03d %6d ", 1763877600+j/1000, j%1000, r.IntN(5000))
		b = privV4(r).AppendTo(b)
		b = fmt.Appendf(b, " TCP_MISS/200 %d GET ", r.IntN(100000))
		dst := publicV4(r)
		if hit {
			b = append(b, ind.Value...)
		} else {
			b = append(b, "https://"...)
			b = benignHost(r, b)
			b = append(b, '/')
			b = word(r, b, 3, 12)
			b = append(b, '/')
			b = word(r, b, 3, 12)
			b = append(b, ".js"...)
		}
		b = append(b, " - HIER_DIRECT/"...)
		b = dst.AppendTo(b)
		b = append(b, " application/javascript"...)
	case typ < 90: // firewall (iptables)
		b = stamp(b, j)
		b = append(b, "fw01 kernel: [UFW BLOCK] IN=eth0 OUT= MAC= SRC="...)
		src, dst := privV4(r), publicV4(r)
		if hit {
			switch ind.Kind {
			case match.KindCIDR:
				p := netip.MustParsePrefix(ind.Value)
				a := p.Addr().As16()
				if p.Addr().Is4() {
					v := p.Addr().As4()
					v[3] |= byte(r.IntN(1 << (32 - p.Bits())))
					dst = netip.AddrFrom4(v)
				} else {
					a[15] = byte(r.Uint32())
					dst = netip.AddrFrom16(a)
				}
			default:
				dst = netip.MustParseAddr(ind.Value)
			}
		}
		if dst.Is6() {
			src = netip.MustParseAddr("fd00::1")
		}
		b = append(b, src.String()...)
		b = append(b, " DST="...)
		b = dst.AppendTo(b)
		b = fmt.Appendf(b, " LEN=60 TOS=0x00 PROTO=TCP SPT=%d DPT=%d WINDOW=64240 SYN", 1024+r.IntN(60000), []int{22, 80, 443, 3389, 445}[r.IntN(5)])
	case typ < 95: // mail (postfix)
		b = stamp(b, j)
		b = fmt.Appendf(b, "mx1 postfix/smtpd[%d]: %X: client=unknown[", 1000+r.IntN(9000), r.Uint32())
		b = publicV4(r).AppendTo(b)
		b = append(b, "], from=<"...)
		if hit {
			b = append(b, ind.Value...)
		} else {
			b = word(r, b, 4, 9)
			b = append(b, "@mail."...)
			b = append(b, benign[r.IntN(len(benign))]...)
		}
		b = append(b, ">"...)
	default: // antivirus / EDR
		b = stamp(b, j)
		b = fmt.Appendf(b, "edr[%d]: scanned file=C:\\Users\\u%d\\Downloads\\", 100+r.IntN(900), r.IntN(500))
		b = word(r, b, 4, 10)
		b = append(b, ".exe hash="...)
		if hit {
			b = append(b, ind.Value...)
		} else {
			var raw [32]byte
			for i := range raw {
				raw[i] = byte(r.Uint32())
			}
			b = hex.AppendEncode(b, raw[:])
		}
		b = append(b, " verdict=clean"...)
	}
	return append(b, '\n')
}

// ID returns the STIX id of indicator i: a UUID made of i.
func ID(i int) string {
	return fmt.Sprintf("indicator--%08x-0000-4000-8000-%012x", uint32(i>>48), uint64(i)&(1<<48-1))
}

// hashPaths names the file:hashes path of each hash kind.
var hashPaths = map[match.Kind]string{match.KindMD5: "MD5", match.KindSHA1: "SHA-1", match.KindSHA256: "SHA-256", match.KindSHA512: "SHA-512"}

// Pattern returns the STIX pattern of an indicator with the single value e: an equality on the
// value's object path, or ISSUBSET for a CIDR block.
func Pattern(e match.Entry) string {
	switch e.Kind {
	case match.KindDomain:
		return "[domain-name:value = '" + e.Value + "']"
	case match.KindURL:
		return "[url:value = '" + e.Value + "']"
	case match.KindIPv4:
		return "[ipv4-addr:value = '" + e.Value + "']"
	case match.KindIPv6:
		return "[ipv6-addr:value = '" + e.Value + "']"
	case match.KindCIDR:
		if netip.MustParsePrefix(e.Value).Addr().Is4() {
			return "[ipv4-addr:value ISSUBSET '" + e.Value + "']"
		}
		return "[ipv6-addr:value ISSUBSET '" + e.Value + "']"
	case match.KindEmail:
		return "[email-addr:value = '" + e.Value + "']"
	case match.KindMD5, match.KindSHA1, match.KindSHA256, match.KindSHA512:
		return "[file:hashes.'" + hashPaths[e.Kind] + "' = '" + e.Value + "']"
	}
	return ""
}
