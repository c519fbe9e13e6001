package stix

import (
	"fmt"
	"net/netip"
	"strings"
)

// The predefined extensions of §6 (file, network-traffic, process, user-account).
var (
	extArchive = &objSpec{props: map[string]prop{
		"contains_refs": pRefs(refTo("a file or directory", "file", "directory")), "comment": pString},
		required: []string{"contains_refs"}}
	extNTFS = &objSpec{props: map[string]prop{"sid": pString, "alternate_data_streams": pObjects(&objSpec{
		props:    map[string]prop{"name": pString, "hashes": pHashes, "size": pUint},
		required: []string{"name"}})}, atLeastOne: true}
	extPDF = &objSpec{props: map[string]prop{"version": pString, "is_optimized": pBool,
		"document_info_dict": pDict, "pdfid0": pString, "pdfid1": pString}, atLeastOne: true}
	extRaster = &objSpec{props: map[string]prop{"image_height": pInt, "image_width": pInt,
		"bits_per_pixel": pInt, "exif_tags": pDict}, atLeastOne: true}
	extPE = &objSpec{props: map[string]prop{"pe_type": pString, "imphash": pString, "machine_hex": pHex,
		"number_of_sections": pUint, "time_date_stamp": pTimestamp, "pointer_to_symbol_table_hex": pHex,
		"number_of_symbols": pUint, "size_of_optional_header": pUint, "characteristics_hex": pHex,
		"file_header_hashes": pHashes, "optional_header": pObject(&objSpec{atLeastOne: true, props: map[string]prop{
			"magic_hex": pHex, "major_linker_version": pInt, "minor_linker_version": pInt, "size_of_code": pUint,
			"size_of_initialized_data": pUint, "size_of_uninitialized_data": pUint, "address_of_entry_point": pInt,
			"base_of_code": pInt, "base_of_data": pInt, "image_base": pInt, "section_alignment": pInt,
			"file_alignment": pInt, "major_os_version": pInt, "minor_os_version": pInt, "major_image_version": pInt,
			"minor_image_version": pInt, "major_subsystem_version": pInt, "minor_subsystem_version": pInt,
			"win32_version_value_hex": pHex, "size_of_image": pUint, "size_of_headers": pUint, "checksum_hex": pHex,
			"subsystem_hex": pHex, "dll_characteristics_hex": pHex, "size_of_stack_reserve": pUint,
			"size_of_stack_commit": pUint, "size_of_heap_reserve": pUint, "size_of_heap_commit": pUint,
			"loader_flags_hex": pHex, "number_of_rva_and_sizes": pInt, "hashes": pHashes}}),
		"sections": pObjects(&objSpec{props: map[string]prop{"name": pString, "size": pUint,
			"entropy": pNumber, "hashes": pHashes}, required: []string{"name"}})},
		required: []string{"pe_type"},
		check: func(v *validator, p *path, sp span) {
			it := newIter(v.raw, sp)
			for {
				n, _, ok := it.member()
				if !ok {
					break
				}
				if v.unquoted(n) != "pe_type" {
					return
				}
			}
			v.problem(p, "required", "windows-pebinary-ext must contain at least one property besides pe_type")
		}}
	extHTTP = &objSpec{props: map[string]prop{"request_method": pString, "request_value": pString,
		"request_version": pString, "request_header": pDict, "message_body_length": pInt,
		"message_body_data_ref": pRef(refTo("an artifact", "artifact"))},
		required: []string{"request_method", "request_value"}}
	extICMP   = &objSpec{props: map[string]prop{"icmp_type_hex": pHex, "icmp_code_hex": pHex}, required: []string{"icmp_type_hex", "icmp_code_hex"}}
	extSocket = &objSpec{props: map[string]prop{
		"address_family": pEnum("AF_UNSPEC", "AF_INET", "AF_IPX", "AF_APPLETALK", "AF_NETBIOS", "AF_INET6", "AF_IRDA", "AF_BTH"),
		"is_blocking":    pBool, "is_listening": pBool, "options": pDict,
		"socket_type":       pEnum("SOCK_STREAM", "SOCK_DGRAM", "SOCK_RAW", "SOCK_RDM", "SOCK_SEQPACKET"),
		"socket_descriptor": pUint, "socket_handle": pInt},
		required: []string{"address_family"}}
	extTCP     = &objSpec{props: map[string]prop{"src_flags_hex": pHex, "dst_flags_hex": pHex}, atLeastOne: true}
	extProcess = &objSpec{props: map[string]prop{"aslr_enabled": pBool, "dep_enabled": pBool, "priority": pString,
		"owner_sid": pString, "window_title": pString, "startup_info": pDict,
		"integrity_level": pEnum("low", "medium", "high", "system")}, atLeastOne: true}
	extService = &objSpec{props: map[string]prop{"service_name": pString, "descriptions": pStrings,
		"display_name": pString, "group_name": pString,
		"start_type":       pEnum("SERVICE_AUTO_START", "SERVICE_BOOT_START", "SERVICE_DEMAND_START", "SERVICE_DISABLED", "SERVICE_SYSTEM_ALERT"),
		"service_dll_refs": pRefs(refTo("a file", "file")),
		"service_type":     pEnum("SERVICE_KERNEL_DRIVER", "SERVICE_FILE_SYSTEM_DRIVER", "SERVICE_WIN32_OWN_PROCESS", "SERVICE_WIN32_SHARE_PROCESS"),
		"service_status": pEnum("SERVICE_CONTINUE_PENDING", "SERVICE_PAUSE_PENDING", "SERVICE_PAUSED", "SERVICE_RUNNING",
			"SERVICE_START_PENDING", "SERVICE_STOP_PENDING", "SERVICE_STOPPED")}, atLeastOne: true}
	extUnix = &objSpec{props: map[string]prop{"gid": pInt, "groups": pStrings, "home_dir": pString, "shell": pString},
		atLeastOne: true}
)

var mimePart = &objSpec{props: map[string]prop{"body": pString,
	"body_raw_ref": pRef(refTo("an artifact or file", "artifact", "file")), "content_type": pString,
	"content_disposition": pString},
	check: func(v *validator, p *path, sp span) {
		if v.memberIn(sp, "body") == v.memberIn(sp, "body_raw_ref") {
			v.problem(p, "required", "a MIME part has exactly one of body and body_raw_ref")
		}
	}}

func (t typeTable) registerSCOs() {
	sco := t.sco
	addrRefs := func(what string, types ...string) prop { return pRefs(refTo(what, types...)) }
	netRef := pRef(refTo("an ipv4-addr, ipv6-addr, mac-addr or domain-name", "ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"))
	emailRef := pRef(refTo("an email-addr", "email-addr"))
	emailRefs := pRefs(refTo("an email-addr", "email-addr"))
	userRef := pRef(refTo("a user-account", "user-account"))

	sco("artifact", map[string]prop{"mime_type": pString, "payload_bin": pBinary, "url": pString, "hashes": pHashes,
		"encryption_algorithm": pEnum("AES-256-GCM", "ChaCha20-Poly1305", "mime-type-indicated"), "decryption_key": pString},
		nil, []string{"hashes", "payload_bin"}, nil, checkArtifact)
	sco("autonomous-system", map[string]prop{"number": pInt, "name": pString, "rir": pString},
		[]string{"number"}, []string{"number"}, nil, nil)
	sco("directory", map[string]prop{"path": pString, "path_enc": pString, "ctime": pTimestamp, "mtime": pTimestamp,
		"atime": pTimestamp, "contains_refs": addrRefs("a file or directory", "file", "directory")},
		[]string{"path"}, []string{"path"}, nil, nil)
	sco("domain-name", map[string]prop{"value": pString,
		"resolves_to_refs": addrRefs("an ipv4-addr, ipv6-addr or domain-name", "ipv4-addr", "ipv6-addr", "domain-name")},
		[]string{"value"}, []string{"value"}, nil, valueFormat(validDomain, "a domain name"))
	sco("email-addr", map[string]prop{"value": pString, "display_name": pString, "belongs_to_ref": userRef},
		[]string{"value"}, []string{"value"}, nil, valueFormat(validEmail, "an email address (addr-spec, without a display name)"))
	sco("email-message", map[string]prop{"is_multipart": pBool, "date": pTimestamp, "content_type": pString,
		"from_ref": emailRef, "sender_ref": emailRef, "to_refs": emailRefs, "cc_refs": emailRefs, "bcc_refs": emailRefs,
		"message_id": pString, "subject": pString, "received_lines": pStrings, "additional_header_fields": pDict,
		"body": pString, "body_multipart": pObjects(mimePart), "raw_email_ref": pRef(refTo("an artifact", "artifact"))},
		[]string{"is_multipart"}, []string{"from_ref", "subject", "body"}, nil, checkEmailMessage)
	sco("file", map[string]prop{"extensions": {c: cExtensions}, "hashes": pHashes, "size": pUint, "name": pString,
		"name_enc": pString, "magic_number_hex": pHex, "mime_type": pString, "ctime": pTimestamp, "mtime": pTimestamp,
		"atime": pTimestamp, "parent_directory_ref": pRef(refTo("a directory", "directory")),
		"contains_refs": pRefs(refSCO), "content_ref": pRef(refTo("an artifact", "artifact"))},
		nil, []string{"hashes", "name", "extensions", "parent_directory_ref"},
		map[string]*objSpec{"archive-ext": extArchive, "ntfs-ext": extNTFS, "pdf-ext": extPDF,
			"raster-image-ext": extRaster, "windows-pebinary-ext": extPE},
		func(v *validator) { v.requireOneOf("hashes", "name") })
	sco("ipv4-addr", map[string]prop{"value": pString,
		"resolves_to_refs": addrRefs("a mac-addr", "mac-addr"),
		"belongs_to_refs":  addrRefs("an autonomous-system", "autonomous-system")},
		[]string{"value"}, []string{"value"}, nil, valueFormat(validIPv4, "an IPv4 address or CIDR block"))
	sco("ipv6-addr", map[string]prop{"value": pString,
		"resolves_to_refs": addrRefs("a mac-addr", "mac-addr"),
		"belongs_to_refs":  addrRefs("an autonomous-system", "autonomous-system")},
		[]string{"value"}, []string{"value"}, nil, valueFormat(validIPv6, "an IPv6 address or CIDR block"))
	sco("mac-addr", map[string]prop{"value": pString},
		[]string{"value"}, []string{"value"}, nil, valueFormat(validMAC, "a lower-case, colon-separated MAC-48 address such as 00:00:ab:cd:ef:01"))
	sco("mutex", map[string]prop{"name": pString}, []string{"name"}, []string{"name"}, nil, nil)
	sco("network-traffic", map[string]prop{"extensions": {c: cExtensions}, "start": pTimestamp, "end": pTimestamp,
		"is_active": pBool, "src_ref": netRef, "dst_ref": netRef, "src_port": pIntRange(0, 65535),
		"dst_port": pIntRange(0, 65535), "protocols": pStrings, "src_byte_count": pUint, "dst_byte_count": pUint,
		"src_packets": pUint, "dst_packets": pUint, "ipfix": pDict,
		"src_payload_ref": pRef(refTo("an artifact", "artifact")), "dst_payload_ref": pRef(refTo("an artifact", "artifact")),
		"encapsulates_refs":   pRefs(refTo("a network-traffic object", "network-traffic")),
		"encapsulated_by_ref": pRef(refTo("a network-traffic object", "network-traffic"))},
		[]string{"protocols"}, []string{"start", "end", "src_ref", "dst_ref", "src_port", "dst_port", "protocols", "extensions"},
		map[string]*objSpec{"http-request-ext": extHTTP, "icmp-ext": extICMP, "socket-ext": extSocket, "tcp-ext": extTCP},
		checkNetworkTraffic)
	sco("process", map[string]prop{"extensions": {c: cExtensions}, "is_hidden": pBool, "pid": pInt,
		"created_time": pTimestamp, "cwd": pString, "command_line": pString, "environment_variables": pDict,
		"opened_connection_refs": pRefs(refTo("a network-traffic object", "network-traffic")),
		"creator_user_ref":       userRef, "image_ref": pRef(refTo("a file", "file")),
		"parent_ref": pRef(refTo("a process", "process")), "child_refs": pRefs(refTo("a process", "process"))},
		nil, nil, map[string]*objSpec{"windows-process-ext": extProcess, "windows-service-ext": extService},
		atLeastOneOwn("process"))
	sco("software", map[string]prop{"name": pString, "cpe": pString, "swid": pString, "languages": pStrings,
		"vendor": pString, "version": pString},
		[]string{"name"}, []string{"name", "cpe", "swid", "vendor", "version"}, nil, nil)
	sco("url", map[string]prop{"value": pString}, []string{"value"}, []string{"value"}, nil,
		valueFormat(func(s string) bool { return strings.TrimSpace(s) != "" }, "a URL"))
	sco("user-account", map[string]prop{"extensions": {c: cExtensions}, "user_id": pString, "credential": pString,
		"account_login": pString, "account_type": pString, "display_name": pString, "is_service_account": pBool,
		"is_privileged": pBool, "can_escalate_privs": pBool, "is_disabled": pBool, "account_created": pTimestamp,
		"account_expires": pTimestamp, "credential_last_changed": pTimestamp, "account_first_login": pTimestamp,
		"account_last_login": pTimestamp},
		nil, []string{"account_type", "user_id", "account_login"},
		map[string]*objSpec{"unix-account-ext": extUnix}, atLeastOneOwn("user-account"))
	sco("windows-registry-key", map[string]prop{"key": pString, "values": pObjects(&objSpec{
		props: map[string]prop{"name": pString, "data": pString, "data_type": pEnum("REG_NONE", "REG_SZ",
			"REG_EXPAND_SZ", "REG_BINARY", "REG_DWORD", "REG_DWORD_BIG_ENDIAN", "REG_DWORD_LITTLE_ENDIAN", "REG_LINK",
			"REG_MULTI_SZ", "REG_RESOURCE_LIST", "REG_FULL_RESOURCE_DESCRIPTION", "REG_RESOURCE_REQUIREMENTS_LIST",
			"REG_QWORD", "REG_INVALID_TYPE")}, atLeastOne: true}),
		"modified_time": pTimestamp, "creator_user_ref": userRef, "number_of_subkeys": pInt},
		nil, []string{"key", "values"}, nil, checkRegistryKey)
	sco("x509-certificate", map[string]prop{"is_self_signed": pBool, "hashes": pHashes, "version": pString,
		"serial_number": pString, "signature_algorithm": pString, "issuer": pString,
		"validity_not_before": pTimestamp, "validity_not_after": pTimestamp, "subject": pString,
		"subject_public_key_algorithm": pString, "subject_public_key_modulus": pString,
		"subject_public_key_exponent": pInt, "x509_v3_extensions": pObject(&objSpec{atLeastOne: true, props: map[string]prop{
			"basic_constraints": pString, "name_constraints": pString, "policy_constraints": pString,
			"key_usage": pString, "extended_key_usage": pString, "subject_key_identifier": pString,
			"authority_key_identifier": pString, "subject_alternative_name": pString,
			"issuer_alternative_name": pString, "subject_directory_attributes": pString,
			"crl_distribution_points": pString, "inhibit_any_policy": pString,
			"private_key_usage_period_not_before": pTimestamp, "private_key_usage_period_not_after": pTimestamp,
			"certificate_policies": pString, "policy_mappings": pString}})},
		nil, []string{"hashes", "serial_number"}, nil, atLeastOneOwn("x509-certificate"))
}

// valueFormat checks the value property of an SCO, unless the object says it is defanged.
func valueFormat(valid func(string) bool, what string) func(*validator) {
	return func(v *validator) {
		if d, _ := v.boolValue("defanged"); d {
			return
		}
		sp, ok := v.get("value")
		if !ok || sp.kind(v.raw) != '"' {
			return
		}
		if s := v.unquoted(sp); !valid(s) {
			p := v.top("value")
			v.problemf(p, "value-format", "%q is not %s", s, what)
		}
	}
}

// atLeastOneOwn requires at least one property of the type's own (the SCOs whose properties are
// all optional).
func atLeastOneOwn(typ string) func(*validator) {
	return func(v *validator) {
		for name := range v.spec.props {
			if v.has(name) {
				return
			}
		}
		v.problem(nil, "required", fmt.Sprintf("a %s object must have at least one of its own properties", typ))
	}
}

func validIPv4(s string) bool {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return err == nil && p.Addr().Is4()
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

func validIPv6(s string) bool {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return err == nil && p.Addr().Is6()
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is6()
}

func validMAC(s string) bool {
	if len(s) != 17 {
		return false
	}
	for i := 0; i < 17; i++ {
		c := s[i]
		if i%3 == 2 {
			if c != ':' {
				return false
			}
		} else if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// validDomain is a light check of RFC 1034 names (internationalised labels allowed): no
// whitespace or control characters, no empty labels, at most 253 characters.
func validDomain(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '/' || r == '@' {
			return false
		}
	}
	return true
}

// validEmail is a light check of an RFC 5322 addr-spec: a local part, one "@" and a domain, with no
// whitespace or angle brackets (a display name belongs in display_name).
func validEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return false
	}
	return !strings.ContainsAny(s, "<> \t\r\n")
}

func checkArtifact(v *validator) {
	bin, url := v.has("payload_bin"), v.has("url")
	switch {
	case bin && url:
		p := v.top("url")
		v.problem(p, "exclusive", "payload_bin and url must not both be present")
	case !bin && !url:
		v.problem(nil, "required", "one of payload_bin and url is required")
	}
	if url && !v.has("hashes") {
		p := v.top("hashes")
		v.problem(p, "required", "hashes is required when url is present")
	}
	if v.has("decryption_key") && !v.has("encryption_algorithm") {
		p := v.top("decryption_key")
		v.problem(p, "required", "decryption_key needs encryption_algorithm")
	}
}

func checkEmailMessage(v *validator) {
	multi, ok := v.boolValue("is_multipart")
	if !ok {
		return
	}
	if multi && v.has("body") {
		p := v.top("body")
		v.problem(p, "exclusive", "body must not be used when is_multipart is true")
	}
	if !multi && v.has("body_multipart") {
		p := v.top("body_multipart")
		v.problem(p, "exclusive", "body_multipart must not be used when is_multipart is false")
	}
}

func checkNetworkTraffic(v *validator) {
	v.requireOneOf("src_ref", "dst_ref")
	if active, _ := v.boolValue("is_active"); active && v.has("end") {
		p := v.top("end")
		v.problem(p, "exclusive", "end must not be present when is_active is true")
	}
	order("start", "end", false)(v)
}

func checkRegistryKey(v *validator) {
	atLeastOneOwn("windows-registry-key")(v)
	sp, ok := v.get("key")
	if !ok || sp.kind(v.raw) != '"' {
		return
	}
	key := v.unquoted(sp)
	hive, _, _ := strings.Cut(key, `\`)
	switch strings.ToUpper(hive) {
	case "HKLM", "HKCC", "HKCR", "HKCU", "HKU":
		p := v.top("key")
		v.problemf(p, "registry-hive", "the hive of %q must be written out in full (such as HKEY_LOCAL_MACHINE)", key)
	}
}
