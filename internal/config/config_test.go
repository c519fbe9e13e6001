package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		wantErr string // substring; "" means success
		check   func(t *testing.T, c Config)
	}{
		{
			name: "overrides only what it names",
			json: `{"listen": "0.0.0.0:9000", "limits": {"shutdown_timeout": "3s"}}`,
			check: func(t *testing.T, c Config) {
				if c.Listen != "0.0.0.0:9000" {
					t.Errorf("Listen = %q", c.Listen)
				}
				if c.Limits.ShutdownTimeout.Std() != 3*time.Second {
					t.Errorf("ShutdownTimeout = %v", c.Limits.ShutdownTimeout.Std())
				}
				if c.DataDir != DefaultDataDir || c.Limits.MaxBodyBytes != Default().Limits.MaxBodyBytes {
					t.Errorf("unmentioned fields changed: %+v", c)
				}
			},
		},
		{name: "unknown key", json: `{"listne": "x"}`, wantErr: `unknown field "listne"`},
		{name: "unknown nested key", json: `{"limits": {"max_body": 1}}`, wantErr: `unknown field "max_body"`},
		{name: "trailing data", json: `{} {}`, wantErr: "unexpected data after"},
		{name: "bad duration", json: `{"limits": {"idle_timeout": "soon"}}`, wantErr: "soon"},
		{name: "duration as number", json: `{"limits": {"idle_timeout": 5}}`, wantErr: "must be a string"},
		{name: "wrong type", json: `{"insecure_http": "yes"}`, wantErr: "insecure_http"},
		{name: "syntax error has a line", json: "{\n\"listen\": ,\n}", wantErr: "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			err := c.Load(strings.NewReader(tt.json))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				tt.check(t, c)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Load error = %v, want one containing %q", err, tt.wantErr)
			}
			if !reflect.DeepEqual(c, Default()) {
				t.Errorf("a failed Load changed the config: %+v", c)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "renkei.json")
	if err := os.WriteFile(p, []byte(`{"log_level": "debug"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	if err := c.LoadFile(p); err != nil {
		t.Fatal(err)
	}
	if c.LogLevel != "debug" {
		t.Errorf("LogLevel = %q", c.LogLevel)
	}
	if err := c.LoadFile(filepath.Join(dir, "absent.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile(absent) = %v, want ErrNotExist", err)
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, []byte(`{"data_dir": "`+strings.Repeat("a", MaxFileBytes)+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.LoadFile(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("LoadFile(big) = %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(c *Config)
		want  []string // substrings, all expected
		plain bool     // errors.Is(err, ErrPlainHTTP)
	}{
		{name: "loopback v4", edit: func(c *Config) { c.Listen = "127.0.0.5:0" }},
		{name: "loopback v6", edit: func(c *Config) { c.Listen = "[::1]:80" }},
		{name: "localhost", edit: func(c *Config) { c.Listen = "LocalHost:80" }},
		{name: "all interfaces", edit: func(c *Config) { c.Listen = ":8443" }, want: []string{"loopback"}, plain: true},
		{name: "public address", edit: func(c *Config) { c.Listen = "192.0.2.1:443" }, want: []string{"loopback"}, plain: true},
		{name: "v4-mapped public", edit: func(c *Config) { c.Listen = "[::ffff:192.0.2.1]:443" }, plain: true, want: []string{"loopback"}},
		{name: "insecure allowed", edit: func(c *Config) { c.Listen = "0.0.0.0:80"; c.InsecureHTTP = true }},
		{name: "tls allowed", edit: func(c *Config) { c.Listen = "0.0.0.0:443"; c.TLSCert, c.TLSKey = "c.pem", "k.pem" }},
		{name: "cert without key", edit: func(c *Config) { c.TLSCert = "c.pem" }, want: []string{"give both"}},
		{name: "bad listen", edit: func(c *Config) { c.Listen = "localhost" }, want: []string{"not host:port"}},
		{name: "bad port", edit: func(c *Config) { c.Listen = "localhost:http" }, want: []string{"port"}},
		{name: "taxii root bad name", edit: func(c *Config) { c.TAXII.APIRoots[0].Name = "a/b" }, want: []string{"api_roots[0].name", "taxii.default"}},
		{name: "taxii root twice", edit: func(c *Config) { c.TAXII.APIRoots = append(c.TAXII.APIRoots, c.TAXII.APIRoots[0]) }, want: []string{"used twice"}},
		{name: "taxii body over the server's", edit: func(c *Config) { c.TAXII.APIRoots[0].MaxContentLength = c.Limits.MaxBodyBytes + 1 }, want: []string{"max_content_length"}},
		{name: "taxii page sizes", edit: func(c *Config) { c.TAXII.PageSize = 2000 }, want: []string{"page_size"}},
		{name: "personal data block", edit: func(c *Config) { c.PersonalData.Mode = "block" }},
		{name: "personal data hash with key", edit: func(c *Config) { c.PersonalData = PersonalData{Mode: "hash", HashKeyFile: "k"} }},
		{name: "personal data hash without key", edit: func(c *Config) { c.PersonalData.Mode = "hash" }, want: []string{"hash_key_file"}},
		{name: "personal data bad mode", edit: func(c *Config) { c.PersonalData.Mode = "drop" }, want: []string{"personal_data.mode"}},
		{name: "read cache off", edit: func(c *Config) { c.ReadCacheMiB = 0 }},
		{name: "read cache negative", edit: func(c *Config) { c.ReadCacheMiB = -1 }, want: []string{"read_cache_mib"}},
		{name: "taxii no roots", edit: func(c *Config) { c.TAXII.APIRoots, c.TAXII.Default = nil, "" }},
		{
			name: "every problem at once",
			edit: func(c *Config) {
				c.DataDir = " "
				c.LogLevel = "loud"
				c.LogFormat = "xml"
				c.Limits.MaxBodyBytes = 0
				c.Limits.ShutdownTimeout = 0
			},
			want: []string{"data_dir", "log_level", "log_format", "max_body_bytes", "shutdown_timeout"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.edit(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v, missing %q", err, w)
				}
			}
			if got := errors.Is(err, ErrPlainHTTP); got != tt.plain {
				t.Errorf("errors.Is(err, ErrPlainHTTP) = %v, want %v", got, tt.plain)
			}
		})
	}
}

func TestDataDirFrom(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	if got := DataDirFrom(get); got != DefaultDataDir {
		t.Errorf("DataDirFrom(empty) = %q", got)
	}
	env[EnvDataDir] = "/srv/renkei"
	if got := DataDirFrom(get); got != "/srv/renkei" {
		t.Errorf("DataDirFrom = %q", got)
	}
}
