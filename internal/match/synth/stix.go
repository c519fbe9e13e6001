package synth

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"time"
)

// Plant is what an observation carries to hit a pattern of a STIX pattern set: a value in one of
// the slots the observation generator fills (see STIXPattern).
type Plant struct {
	Slot  string // sha256, md5, sha1, ipv4, ipv6, domain, url, email, cmdline, dstip, from, regkey
	Value string
}

// The mix of a STIX pattern set, per 10,000 patterns: mostly single exact values, as indicator
// feeds are, and a share of what an exact-value index cannot serve alone (CIDR blocks, LIKE,
// MATCHES, AND across referenced objects, FOLLOWEDBY … WITHIN, REPEATS, range comparisons).
var stixMix = []struct {
	name string
	per  int
}{
	{"sha256", 2900}, {"md5", 1000}, {"sha1", 500}, {"ipv4", 1500}, {"ipv6", 200},
	{"domain", 1500}, {"url", 800}, {"email", 300}, {"cidr", 200}, {"like-domain", 200},
	{"like-url", 100}, {"matches-url", 100}, {"matches-cmd", 100}, {"nt-and", 200},
	{"email-and", 100}, {"followedby", 100}, {"repeats", 50}, {"obs-or", 50},
	{"file-size", 1}, {"x509-range", 1}, {"x509-hash", 98},
}

var stixKind = func() (t [10000]string) {
	i := 0
	for _, m := range stixMix {
		for range m.per {
			t[i] = m.name
			i++
		}
	}
	if i != len(t) {
		panic(fmt.Sprintf("synth: the STIX mix sums to %d, not %d", i, len(t)))
	}
	return t
}()

func hexOf(r *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 2*n)
	for i := range b {
		b[i] = digits[r.IntN(16)]
	}
	return string(b)
}

func token(r *rand.Rand, n int) string {
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[r.IntN(len(alnum))]
	}
	return string(b)
}

// STIXPattern returns pattern i of the STIX pattern set with the given seed, and the value an
// observation carries to hit it. Most hits match; some only reach the pattern's trigger (a
// FOLLOWEDBY needs a second observation, REPEATS a number_observed of 5 or more).
func STIXPattern(seed uint64, i int) (string, Plant) {
	r := rng(seed^0x3c6ef372, uint64(i))
	switch stixKind[r.IntN(len(stixKind))] {
	case "sha256":
		h := hexOf(r, 32)
		return "[file:hashes.'SHA-256' = '" + h + "']", Plant{"sha256", h}
	case "md5":
		h := hexOf(r, 16)
		return "[file:hashes.MD5 = '" + h + "']", Plant{"md5", h}
	case "sha1":
		h := hexOf(r, 20)
		return "[file:hashes.'SHA-1' = '" + h + "']", Plant{"sha1", h}
	case "ipv4":
		a := publicV4(r).String()
		return "[ipv4-addr:value = '" + a + "']", Plant{"ipv4", a}
	case "ipv6":
		a := v6(r).String()
		return "[ipv6-addr:value = '" + a + "']", Plant{"ipv6", a}
	case "domain":
		d := string(domain(r, nil))
		return "[domain-name:value = '" + d + "']", Plant{"domain", d}
	case "url":
		u := "http://" + string(domain(r, nil)) + "/" + token(r, 6) + "/" + token(r, 8) + ".php"
		return "[url:value = '" + u + "']", Plant{"url", u}
	case "email":
		e := token(r, 7) + "@" + string(domain(r, nil))
		return "[email-addr:value = '" + e + "']", Plant{"email", e}
	case "cidr":
		a := publicV4(r)
		p := netip.PrefixFrom(a, 16+r.IntN(13)).Masked()
		return "[ipv4-addr:value ISSUBSET '" + p.String() + "']", Plant{"ipv4", a.String()}
	case "like-domain":
		d := string(domain(r, nil))
		return "[domain-name:value LIKE '%." + d + "']", Plant{"domain", "x" + token(r, 3) + "." + d}
	case "like-url":
		d := string(domain(r, nil))
		return "[url:value LIKE 'http%://" + d + "/%']", Plant{"url", "https://" + d + "/" + token(r, 10)}
	case "matches-url":
		w := token(r, 8)
		return `[url:value MATCHES '^https?://[a-z0-9.-]+/` + w + `/[a-z0-9]{8}\\.php$']`,
			Plant{"url", "https://" + string(domain(r, nil)) + "/" + w + "/" + token(r, 8) + ".php"}
	case "matches-cmd":
		t := token(r, 12)
		return `[process:command_line MATCHES '(?i)powershell(\\.exe)? .*-enc(odedcommand)? ` + t + `']`,
			Plant{"cmdline", "powershell.exe -nop -w hidden -enc " + t}
	case "nt-and":
		a := publicV4(r).String()
		return "[network-traffic:dst_ref.value = '" + a + "' AND network-traffic:dst_port = 443]", Plant{"dstip", a}
	case "email-and":
		e := token(r, 7) + "@" + string(domain(r, nil))
		return "[email-message:from_ref.value = '" + e + "' AND email-message:subject LIKE '%nvoice%']", Plant{"from", e}
	case "followedby":
		h := hexOf(r, 16)
		return "[file:hashes.MD5 = '" + h + "'] FOLLOWEDBY [windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\Software\\\\Microsoft\\\\Windows\\\\CurrentVersion\\\\Run\\\\" + token(r, 8) + "'] WITHIN 300 SECONDS", Plant{"md5", h}
	case "repeats":
		a := publicV4(r).String()
		return "[ipv4-addr:value = '" + a + "'] REPEATS 5 TIMES WITHIN 600 SECONDS", Plant{"ipv4", a}
	case "obs-or":
		d := string(domain(r, nil))
		return "[domain-name:value = '" + d + "'] OR [url:value = 'http://" + d + "/']", Plant{"domain", d}
	case "file-size":
		return "[file:size > " + strconv.Itoa(50_000_000+r.IntN(50_000_000)) + "]", Plant{"sha256", hexOf(r, 32)}
	case "x509-range":
		return "[x509-certificate:validity_not_after < t'2016-01-01T00:00:00Z']", Plant{"sha256", hexOf(r, 32)}
	case "x509-hash":
		h := hexOf(r, 20)
		return "[x509-certificate:hashes.'SHA-1' = '" + h + "']", Plant{"sha1", h}
	}
	panic("synth: unknown STIX pattern kind")
}

// STIXPatterns returns patterns 0 to n-1 of the set.
func STIXPatterns(n int, seed uint64) []string {
	out := make([]string, n)
	for i := range out {
		out[i], _ = STIXPattern(seed, i)
	}
	return out
}

var cmdlines = []string{
	`C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule`,
	`"C:\Program Files\Google\Chrome\Application\chrome.exe" --type=renderer --lang=en-US`,
	`powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\scripts\backup.ps1`,
	`C:\Windows\System32\RuntimeBroker.exe -Embedding`,
	`/usr/sbin/sshd -D`, `/usr/bin/python3 /opt/app/worker.py --queue default`,
	`cmd.exe /c dir C:\Users`, `C:\Windows\explorer.exe`,
}

var subjects = []string{"Weekly report", "Re: meeting tomorrow", "Your invoice 4711", "Password expiry notice",
	"Quarterly figures", "Fwd: slides", "Delivery failure", "Lunch?"}

var fileNames = []string{"setup.exe", "report.pdf", "invoice.docm", "update.msi", "photo.jpg", "data.zip", "run.ps1"}

// STIXObservations writes observations first to first+n-1 of a stream as one JSON array of STIX
// objects: observed-data of STIX 2.1 with the SCOs it references (object_refs), and one in five of
// STIX 2.0 (an objects dictionary). The observations are network connections, DNS answers, web
// requests, files, processes, e-mails and registry keys; a share hitPct (in percent) carries the
// plant of a pattern of the set (npat, seed). It returns the number of observations that carry one.
func STIXObservations(w io.Writer, first, n int, npat int, seed uint64, hitPct float64) (int, error) {
	var objs []any
	planted := 0
	at := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	for j := first; j < first+n; j++ {
		r := rng(seed^0x7f4a7c15, uint64(j))
		var p Plant
		if npat > 0 && r.Float64()*100 < hitPct {
			_, p = STIXPattern(seed, r.IntN(npat))
			planted++
		}
		objs = append(objs, observation(r, j, at.Add(time.Duration(j)*time.Millisecond), p)...)
	}
	b, err := json.Marshal(objs)
	if err != nil {
		return planted, fmt.Errorf("synth: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return planted, err
	}
	return planted, nil
}

func uuidOf(r *rand.Rand) string {
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), r.IntN(1<<12), r.Uint64()&(1<<48-1))
}

// observation returns the objects of observation j: the observed-data and, for STIX 2.1, its SCOs.
func observation(r *rand.Rand, j int, t time.Time, p Plant) []any {
	kind := r.IntN(100)
	switch p.Slot {
	case "ipv4", "ipv6", "dstip":
		kind = 0
	case "domain":
		kind = 30
	case "url":
		kind = 50
	case "sha256", "md5", "sha1":
		kind = 65
	case "cmdline":
		kind = 85
	case "email", "from":
		kind = 93
	case "regkey":
		kind = 97
	}
	v20 := r.IntN(5) == 0
	type sco struct {
		key   string
		props map[string]any
	}
	var scos []sco
	add := func(props map[string]any) string {
		key := strconv.Itoa(len(scos))
		if !v20 {
			key = props["type"].(string) + "--" + uuidOf(r)
			props["id"] = key
			props["spec_version"] = "2.1"
		}
		scos = append(scos, sco{key, props})
		return key
	}
	val := func(slot, def string) string {
		if p.Slot == slot {
			return p.Value
		}
		return def
	}
	switch {
	case kind < 30: // a network connection
		dst := publicV4(r).String()
		if p.Slot == "ipv4" || p.Slot == "dstip" {
			dst = p.Value
		}
		dtype := "ipv4-addr"
		if p.Slot == "ipv6" {
			dst, dtype = p.Value, "ipv6-addr"
		}
		src := add(map[string]any{"type": "ipv4-addr", "value": privV4(r).String()})
		d := add(map[string]any{"type": dtype, "value": dst})
		port := []int{443, 443, 80, 53, 22, 8080}[r.IntN(6)]
		if p.Slot == "dstip" {
			port = 443
		}
		add(map[string]any{"type": "network-traffic", "src_ref": src, "dst_ref": d, "dst_port": port,
			"src_port": 1024 + r.IntN(60000), "protocols": []any{"ipv4", "tcp"}})
	case kind < 50: // a DNS answer
		name := string(benignHost(r, nil))
		a := add(map[string]any{"type": "ipv4-addr", "value": publicV4(r).String()})
		add(map[string]any{"type": "domain-name", "value": val("domain", name), "resolves_to_refs": []any{a}})
	case kind < 65: // a web request
		host := string(benignHost(r, nil))
		u := "https://" + host + "/" + token(r, 5) + "/" + token(r, 9)
		u = val("url", u)
		h := add(map[string]any{"type": "domain-name", "value": host})
		add(map[string]any{"type": "url", "value": u})
		src := add(map[string]any{"type": "ipv4-addr", "value": privV4(r).String()})
		add(map[string]any{"type": "network-traffic", "src_ref": src, "dst_ref": h, "dst_port": 443, "protocols": []any{"tcp", "tls", "http"}})
	case kind < 85: // a file
		hashes := map[string]any{"MD5": val("md5", hexOf(r, 16)), "SHA-256": val("sha256", hexOf(r, 32))}
		if p.Slot == "sha1" {
			hashes["SHA-1"] = p.Value
		}
		add(map[string]any{"type": "file", "name": fileNames[r.IntN(len(fileNames))], "size": 1000 + r.IntN(10_000_000), "hashes": hashes})
	case kind < 93: // a process
		cmd := val("cmdline", cmdlines[r.IntN(len(cmdlines))])
		img := add(map[string]any{"type": "file", "name": "image.exe", "hashes": map[string]any{"SHA-256": hexOf(r, 32)}})
		add(map[string]any{"type": "process", "pid": 100 + r.IntN(60000), "command_line": cmd, "image_ref": img})
	case kind < 97: // an e-mail
		from := add(map[string]any{"type": "email-addr", "value": val("email", val("from", token(r, 6)+"@mail.example.org"))})
		to := add(map[string]any{"type": "email-addr", "value": token(r, 6) + "@corp.example"})
		subj := subjects[r.IntN(len(subjects))]
		if p.Slot == "from" {
			subj = "Invoice " + strconv.Itoa(r.IntN(10000))
		}
		add(map[string]any{"type": "email-message", "is_multipart": false, "from_ref": from, "to_refs": []any{to}, "subject": subj})
	default: // a registry key
		add(map[string]any{"type": "windows-registry-key", "key": `HKEY_LOCAL_MACHINE\Software\Microsoft\Windows\CurrentVersion\Run\` + token(r, 8)})
	}
	ts := t.Format("2006-01-02T15:04:05.000Z")
	od := map[string]any{"type": "observed-data", "id": "observed-data--" + uuidOf(r), "created": ts, "modified": ts,
		"first_observed": ts, "last_observed": ts, "number_observed": 1 + r.IntN(8)}
	out := []any{od}
	if v20 {
		m := map[string]any{}
		for _, s := range scos {
			m[s.key] = s.props
		}
		od["objects"] = m
		return out
	}
	od["spec_version"] = "2.1"
	refs := make([]any, len(scos))
	for i, s := range scos {
		refs[i] = s.key
		out = append(out, s.props)
	}
	od["object_refs"] = refs
	return out
}
