// Package config owns the settings of a renkei node: the Config struct and its defaults, strict loading
// of an optional JSON file (unknown keys are rejected), and validation that reports every problem at
// once. Command-line flags are applied by the caller on top of what the file says.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config holds everything a node needs to run.
type Config struct {
	// DataDir is the directory holding the node's database.
	DataDir string `json:"data_dir"`
	// Listen is the address the HTTP server listens on, host:port.
	Listen string `json:"listen"`
	// TLSCert and TLSKey are PEM files; both or neither.
	TLSCert string `json:"tls_cert"`
	TLSKey  string `json:"tls_key"`
	// InsecureHTTP allows plain HTTP on an address that is not loopback.
	InsecureHTTP bool `json:"insecure_http"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `json:"log_level"`
	// LogFormat is text or json.
	LogFormat string `json:"log_format"`
	Limits    Limits `json:"limits"`
	TAXII     TAXII  `json:"taxii"`
	// PersonalData is the personal-data guard applied to every copy of an object that leaves its
	// organisation: TAXII reads by another organisation and exports.
	PersonalData PersonalData `json:"personal_data"`
	// ReadCacheMiB is the memory, in MiB, the server may use to serve collection pages without
	// reading them from the database (about 1 KiB per stored form); 0 turns the cache off.
	ReadCacheMiB int64 `json:"read_cache_mib"`
}

// PersonalData configures the personal-data guard (docs/EXPORT.md): what happens to a copy that holds
// personal data, and the key of the hash mode.
type PersonalData struct {
	// Mode is block, redact or hash.
	Mode string `json:"mode"`
	// HashKeyFile holds the node's secret key for hash mode (hex, or the raw bytes; at least 32 bytes).
	HashKeyFile string `json:"hash_key_file"`
}

// TAXII configures the TAXII 2.1 service: the discovery resource and the API roots. Collections are
// data (renkei collection add); an API root lists the collections it serves.
type TAXII struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Contact     string `json:"contact"`
	// Default is the name of the default API root; "" for none.
	Default  string    `json:"default"`
	APIRoots []APIRoot `json:"api_roots"`
	// PageSize is the page size when the client gives no limit; MaxPageSize caps any limit.
	PageSize    int `json:"page_size"`
	MaxPageSize int `json:"max_page_size"`
}

// APIRoot is one TAXII API root, served at /taxii2/<name>/.
type APIRoot struct {
	Name        string `json:"name"`
	Title       string `json:"title"`
	Description string `json:"description"`
	// MaxContentLength is the largest POST body accepted, in bytes (at most limits.max_body_bytes).
	MaxContentLength int64 `json:"max_content_length"`
	// Collections lists the collections (ids or aliases) the root serves; empty serves every one.
	Collections []string `json:"collections"`
}

// Limits bound what one HTTP request may cost the node.
type Limits struct {
	MaxBodyBytes      int64    `json:"max_body_bytes"`
	MaxHeaderBytes    int      `json:"max_header_bytes"`
	ReadHeaderTimeout Duration `json:"read_header_timeout"`
	ReadTimeout       Duration `json:"read_timeout"`
	WriteTimeout      Duration `json:"write_timeout"`
	IdleTimeout       Duration `json:"idle_timeout"`
	ShutdownTimeout   Duration `json:"shutdown_timeout"`
}

// Defaults.
const (
	DefaultDataDir = "renkei-data"
	DefaultListen  = "127.0.0.1:8443"
	// EnvDataDir names the environment variable that overrides DefaultDataDir.
	EnvDataDir = "RENKEI_DATA"
	// MaxFileBytes bounds the size of a configuration file.
	MaxFileBytes = 1 << 20
)

// Default returns a Config with every default filled in.
func Default() Config {
	return Config{
		DataDir:   DefaultDataDir,
		Listen:    DefaultListen,
		LogLevel:  "info",
		LogFormat: "text",
		// 256 MiB holds about 250,000 forms: the recent pages partners poll, or a whole mid-sized node.
		ReadCacheMiB: 256,
		Limits: Limits{
			MaxBodyBytes:      64 << 20,
			MaxHeaderBytes:    64 << 10,
			ReadHeaderTimeout: Duration(10 * time.Second),
			ReadTimeout:       Duration(5 * time.Minute),
			WriteTimeout:      Duration(5 * time.Minute),
			IdleTimeout:       Duration(2 * time.Minute),
			ShutdownTimeout:   Duration(15 * time.Second),
		},
		TAXII: TAXII{
			Title:       "renkei",
			Description: "A renkei node: STIX 2.1 threat intelligence over TAXII 2.1.",
			Default:     "api",
			APIRoots: []APIRoot{{Name: "api", Title: "renkei", Description: "Every collection of this node.",
				MaxContentLength: 64 << 20}},
			PageSize:    100,
			MaxPageSize: 1000,
		},
		PersonalData: PersonalData{Mode: "redact"},
	}
}

// DataDirFrom returns the data directory named by the environment (getenv(EnvDataDir)), else the default.
func DataDirFrom(getenv func(string) string) string {
	if d := getenv(EnvDataDir); d != "" {
		return d
	}
	return DefaultDataDir
}

// LoadFile reads a JSON configuration file over c. Keys the Config does not know are an error, as are
// trailing data and files larger than MaxFileBytes. Fields the file does not mention keep their value.
func (c *Config) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	if err := c.Load(f); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// Load reads a JSON configuration over c, strictly (see LoadFile).
func (c *Config) Load(r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return err
	}
	if len(data) > MaxFileBytes {
		return fmt.Errorf("larger than %d bytes", MaxFileBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	next := *c
	if err := dec.Decode(&next); err != nil {
		return describeJSONError(data, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON object")
	}
	*c = next
	return nil
}

// describeJSONError adds a line number to JSON syntax errors.
func describeJSONError(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return fmt.Errorf("line %d: %w", line, err)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Errorf("%s: must be %s, found JSON %s", te.Field, te.Type, te.Value)
	}
	return err
}

// ErrPlainHTTP is wrapped by the Validate error that refuses plain HTTP on a non-loopback address.
var ErrPlainHTTP = errors.New("plain HTTP is only allowed on a loopback address")

// Validate reports every problem with c, joined with errors.Join; nil when c is usable.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if strings.TrimSpace(c.DataDir) == "" {
		add("data_dir: must not be empty")
	}
	host, err := SplitListen(c.Listen)
	if err != nil {
		add("listen: %w", err)
	}
	switch {
	case (c.TLSCert == "") != (c.TLSKey == ""):
		add("tls_cert and tls_key: give both or neither")
	case err == nil && c.TLSCert == "" && !c.InsecureHTTP && !IsLoopback(host):
		errs = append(errs, fmt.Errorf("listen %q: %w", c.Listen, ErrPlainHTTP))
	}
	if _, err := ParseLevel(c.LogLevel); err != nil {
		add("log_level: %w", err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		add("log_format: %q must be text or json", c.LogFormat)
	}
	if c.ReadCacheMiB < 0 || c.ReadCacheMiB > 1<<20 {
		add("read_cache_mib: must be between 0 and 1048576, found %d", c.ReadCacheMiB)
	}
	l := c.Limits
	if l.MaxBodyBytes <= 0 {
		add("limits.max_body_bytes: must be positive, found %d", l.MaxBodyBytes)
	}
	if l.MaxHeaderBytes <= 0 {
		add("limits.max_header_bytes: must be positive, found %d", l.MaxHeaderBytes)
	}
	for _, d := range []struct {
		name string
		v    Duration
	}{
		{"read_header_timeout", l.ReadHeaderTimeout},
		{"read_timeout", l.ReadTimeout},
		{"write_timeout", l.WriteTimeout},
		{"idle_timeout", l.IdleTimeout},
		{"shutdown_timeout", l.ShutdownTimeout},
	} {
		if d.v <= 0 {
			add("limits.%s: must be positive, found %s", d.name, time.Duration(d.v))
		}
	}
	errs = append(errs, c.TAXII.validate(l.MaxBodyBytes)...)
	switch pd := c.PersonalData; {
	case pd.Mode != "block" && pd.Mode != "redact" && pd.Mode != "hash":
		add("personal_data.mode: %q must be block, redact or hash", pd.Mode)
	case pd.Mode == "hash" && pd.HashKeyFile == "":
		add("personal_data: mode hash needs hash_key_file")
	}
	return errors.Join(errs...)
}

// validate checks the TAXII settings; an API root may accept no larger body than the server does.
func (t *TAXII) validate(maxBody int64) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if strings.TrimSpace(t.Title) == "" {
		add("taxii.title: must not be empty")
	}
	if t.PageSize <= 0 || t.MaxPageSize < t.PageSize || t.MaxPageSize > 10000 {
		add("taxii: page_size (%d) must be positive and at most max_page_size (%d), which is at most 10000", t.PageSize, t.MaxPageSize)
	}
	names := map[string]bool{}
	for i, r := range t.APIRoots {
		where := fmt.Sprintf("taxii.api_roots[%d]", i)
		switch {
		case !validRootName(r.Name):
			add("%s.name: %q must be 1 to 64 letters, digits, '-' or '_'", where, r.Name)
		case names[r.Name]:
			add("%s.name: %q is used twice", where, r.Name)
		}
		names[r.Name] = true
		if strings.TrimSpace(r.Title) == "" {
			add("%s.title: must not be empty", where)
		}
		if r.MaxContentLength <= 0 || r.MaxContentLength > maxBody {
			add("%s.max_content_length: %d must be positive and at most limits.max_body_bytes (%d)", where, r.MaxContentLength, maxBody)
		}
	}
	if t.Default != "" && !names[t.Default] {
		add("taxii.default: %q is not the name of an API root", t.Default)
	}
	return errs
}

func validRootName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// SplitListen checks a listen address (host:port, the host may be empty) and returns its host.
func SplitListen(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("%q: port %q is not a number from 0 to 65535", addr, port)
	}
	return host, nil
}

// IsLoopback reports whether host (from a listen address) only reaches this machine: "localhost",
// an address in 127.0.0.0/8, or ::1. The empty host (all interfaces) is not loopback.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return ip.Unmap().IsLoopback()
}

// ParseLevel reads a log level name.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q must be debug, info, warn or error", s)
}

// Duration is a time.Duration written in JSON as a string such as "10s" or "2m30s".
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration must be a string such as \"10s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Std returns the time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }
