package gen

// Word lists the generator draws names and text from. Domains end in names reserved for
// documentation and testing (RFC 2606, RFC 6761), so no generated observable points at a real host.

var (
	domainWords = []string{
		"secure", "update", "login", "cdn", "mail", "portal", "account", "verify", "cloud", "sync",
		"office", "docs", "drive", "auth", "service", "support", "billing", "invoice", "track", "news",
		"static", "api", "files", "share", "backup", "vpn", "remote", "helpdesk", "payroll", "intranet",
	}
	domainSuffixes = []string{"example", "example.com", "example.net", "example.org", "test"}

	urlPaths = []string{
		"wp-content/uploads", "admin", "gate.php", "panel", "images", "download", "js", "api/v1",
		"update", "files/docs", "login", "static/css", "cgi-bin", "owa/auth", "invoice",
	}
	urlExts = []string{".php", ".exe", ".zip", ".js", ".html", ".dll", ".doc", ""}

	fileStems = []string{
		"invoice", "update", "setup", "payload", "loader", "report", "svchost", "agent", "client",
		"document", "scan", "order", "patch", "installer", "helper", "service", "runtime", "backup",
	}
	fileExts = []string{".exe", ".dll", ".docm", ".xlsm", ".js", ".ps1", ".zip", ".iso", ".lnk", ".hta"}

	givenNames  = []string{"anna", "ben", "chloe", "david", "elena", "farid", "greta", "hugo", "ines", "jonas", "kaori", "lukas"}
	familyNames = []string{"meyer", "novak", "rossi", "dubois", "kowalski", "jensen", "silva", "tanaka", "weber", "horvat"}

	// Name parts of SDOs.
	adjectives = []string{
		"Silent", "Crimson", "Frozen", "Hidden", "Iron", "Lunar", "Midnight", "Northern", "Obsidian",
		"Phantom", "Quiet", "Rapid", "Shadow", "Twisted", "Velvet", "Wandering", "Amber", "Bronze",
	}
	nouns = []string{
		"Bear", "Falcon", "Lynx", "Spider", "Viper", "Heron", "Kraken", "Wolf", "Otter", "Panda",
		"Raven", "Hydra", "Jackal", "Mantis", "Scorpion", "Typhoon", "Badger", "Comet",
	}
	malwareTypes     = []string{"backdoor", "ransomware", "remote-access-trojan", "trojan", "downloader", "dropper", "keylogger", "spyware", "bot", "wiper"}
	malwareStems     = []string{"Loader", "Rat", "Stealer", "Locker", "Agent", "Drop", "Wiper", "Bot", "Kit", "Shell"}
	indicatorTypes   = []string{"malicious-activity", "anomalous-activity", "compromised", "attribution"}
	labels           = []string{"phishing", "c2", "botnet", "ransomware", "apt", "scanner", "exploit", "credential-theft", "malspam", "infostealer"}
	reportTypes      = []string{"threat-report", "attack-pattern", "campaign", "indicator", "malware", "threat-actor", "vulnerability"}
	threatActorTypes = []string{"nation-state", "crime-syndicate", "hacker", "insider-disgruntled", "activist", "spy"}
	sophistication   = []string{"intermediate", "advanced", "expert", "innovator", "strategic"}
	resourceLevels   = []string{"individual", "club", "contest", "team", "organization", "government"}
	motivations      = []string{"organizational-gain", "personal-gain", "ideology", "dominance", "coercion", "notoriety"}
	sectors          = []string{"energy", "financial-services", "government-national", "healthcare", "telecommunications", "transportation", "utilities", "defense", "water"}

	// Tactics of the MITRE ATT&CK Enterprise matrix, used as kill chain phase names.
	tactics = []string{
		"reconnaissance", "resource-development", "initial-access", "execution", "persistence",
		"privilege-escalation", "defense-evasion", "credential-access", "discovery", "lateral-movement",
		"collection", "command-and-control", "exfiltration", "impact",
	}
	// A few ATT&CK techniques: (id, name).
	techniques = [][2]string{
		{"T1566", "Phishing"}, {"T1059", "Command and Scripting Interpreter"}, {"T1071", "Application Layer Protocol"},
		{"T1105", "Ingress Tool Transfer"}, {"T1486", "Data Encrypted for Impact"}, {"T1078", "Valid Accounts"},
		{"T1190", "Exploit Public-Facing Application"}, {"T1027", "Obfuscated Files or Information"},
		{"T1547", "Boot or Logon Autostart Execution"}, {"T1003", "OS Credential Dumping"},
		{"T1021", "Remote Services"}, {"T1041", "Exfiltration Over C2 Channel"}, {"T1133", "External Remote Services"},
		{"T1204", "User Execution"}, {"T1053", "Scheduled Task/Job"}, {"T1112", "Modify Registry"},
	}

	// Sentences the descriptions are built from.
	sentences = []string{
		"Observed in spear-phishing messages sent to staff of several ministries.",
		"The operators rotate infrastructure every few days to evade blocklists.",
		"Traffic to this host was seen shortly before the encryption of file shares.",
		"Shared by a partner CERT after an incident at a regional utility.",
		"The loader retrieves a second stage over HTTPS and injects it into a legitimate process.",
		"Activity overlaps with a cluster tracked by several vendors under different names.",
		"Victims were mostly operators of essential services in the energy sector.",
		"The sample contacts its command-and-control server on a non-standard port.",
		"Credentials harvested from the mail portal were reused against the VPN gateway.",
		"Confidence is moderate: the infrastructure is shared hosting and may serve benign sites.",
		"The campaign relies on malicious macros in documents themed as invoices.",
		"Scanning from this address targeted exposed remote desktop services.",
		"The group favours living-off-the-land techniques and scheduled tasks for persistence.",
		"Exfiltration happened in small chunks to avoid triggering volume-based alerts.",
	}

	// Organisations that write the intelligence (created_by_ref) and sectors that are targeted.
	creatorNames = []string{"National CERT", "Ministry of Interior SOC", "Grid Operator CSIRT", "Central Bank CSIRT", "Telecom ISAC"}
	victimNames  = []string{"Regional Water Authority", "Metro Transit", "University Hospital", "Port Logistics", "Municipal Services", "Gas Distribution"}
)
