package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/google/uuid"

	"github.com/renkei-cti/renkei/internal/config"
	"github.com/renkei-cti/renkei/internal/demo"
	"github.com/renkei-cti/renkei/internal/formats/pii"
	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/match"
	"github.com/renkei-cti/renkei/internal/server"
	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
)

const plainHTTPHint = "serve over TLS with --tls-cert FILE --tls-key FILE, listen on a loopback address " +
	"(127.0.0.1:PORT), or pass --insecure-http when a proxy in front of renkei terminates TLS"

func runServe(ctx context.Context, e *env, args []string) (err error) {
	f := newFlags(e, "serve", "renkei serve [--data DIR] [--listen ADDR] [--tls-cert FILE --tls-key FILE] [--insecure-http] [--config FILE] [--demo]",
		`Run the node's HTTP server until interrupted (SIGINT or SIGTERM), then shut down gracefully.
Plain HTTP is only allowed on a loopback address; any other address needs --tls-cert and --tls-key
(TLS 1.2 or later) or an explicit --insecure-http.
With --demo, renkei makes a temporary node holding demo organisations and data, prints an admin
token, and removes the node when it stops.
Settings come from the defaults, then the --config file, then $RENKEI_DATA, then the flags.`)
	def := config.Default()
	f.String("data", config.DataDirFrom(e.getenv), "the node's data `directory` (default from $"+config.EnvDataDir+", else ./"+config.DefaultDataDir+")")
	f.String("listen", def.Listen, "`address` to listen on, host:port (port 0 picks a free port)")
	f.String("tls-cert", "", "TLS certificate `file` (PEM)")
	f.String("tls-key", "", "TLS private key `file` (PEM)")
	f.Bool("insecure-http", false, "allow plain HTTP on an address that is not loopback")
	f.String("log-level", def.LogLevel, "log `level`: debug, info, warn or error")
	f.String("log-format", def.LogFormat, "log `format`: text or json")
	configFile := f.String("config", "", "JSON configuration `file`; unknown keys are an error")
	demoMode := f.Bool("demo", false, "serve a temporary node full of demo data")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("serve", "serve takes no arguments, found %q", pos[0])
	}
	cfg, err := serveConfig(e, f.FlagSet, *configFile)
	if err != nil {
		return err
	}
	if *demoMode && isSet(f.FlagSet, "data") {
		return usageError("serve", "--demo makes its own temporary data directory; leave out --data")
	}
	logger, err := newLogger(e.stderr, cfg)
	if err != nil {
		return usageError("serve", "%v", err)
	}
	var tlsConfig *tls.Config
	if cfg.TLSCert != "" {
		if tlsConfig, err = server.LoadTLS(cfg.TLSCert, cfg.TLSKey); err != nil {
			return withHint(err, "--tls-cert and --tls-key name PEM files: the certificate chain and its private key")
		}
	}

	var st store.Store
	var banner []string
	if *demoMode {
		dir, err := os.MkdirTemp("", "renkei-demo-")
		if err != nil {
			return fmt.Errorf("demo: temporary directory: %w", err)
		}
		defer func() {
			if rerr := os.RemoveAll(dir); rerr != nil {
				err = errors.Join(err, fmt.Errorf("demo: removing %s: %w", dir, rerr))
			}
		}()
		st, banner, err = startDemo(ctx, e, dir, logger, sqlite.WithReadCache(cfg.ReadCacheMiB<<20))
		if err != nil {
			return err
		}
		cfg.DataDir = dir
	} else {
		if st, err = openNode(ctx, cfg.DataDir, logger, sqlite.WithReadCache(cfg.ReadCacheMiB<<20)); err != nil {
			return err
		}
	}
	// The store is closed after the server has shut down (deferred calls run last in, first out:
	// this one before the demo directory is removed).
	defer closeStore(st, &err)

	guard, err := pii.LoadPolicy(cfg.PersonalData.Mode, cfg.PersonalData.HashKeyFile)
	if err != nil {
		return fmt.Errorf("personal_data: %w", err)
	}
	srv, err := server.New(server.Options{Store: st, Logger: logger, Limits: cfg.Limits, TAXII: cfg.TAXII,
		Version: versionString(), PII: guard, MatchIndexFile: filepath.Join(cfg.DataDir, match.IndexFileName)})
	if err != nil {
		return err
	}
	defer srv.WarmMatchIndex(ctx)() // at shutdown it waits for the index, before the store is closed
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return withHint(fmt.Errorf("listen on %s: %w", cfg.Listen, err),
			"choose another address with --listen HOST:PORT (port 0 picks a free one)")
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	url := scheme + "://" + ln.Addr().String()
	fmt.Fprintf(e.stdout, "renkei listening on %s\n", url)
	for _, line := range banner {
		fmt.Fprintln(e.stdout, line)
	}
	logger.Info("listening", "url", url, "data", cfg.DataDir, "demo", *demoMode)
	return srv.Serve(ctx, ln, tlsConfig)
}

// serveConfig builds the configuration: defaults, then the file, then $RENKEI_DATA, then the flags
// that were given.
func serveConfig(e *env, fs *flag.FlagSet, file string) (config.Config, error) {
	cfg := config.Default()
	if file != "" {
		if err := cfg.LoadFile(file); err != nil {
			return cfg, withHint(err, "the configuration file is JSON; its keys are listed in the README")
		}
	}
	if d := e.getenv(config.EnvDataDir); d != "" {
		cfg.DataDir = d
	}
	fs.Visit(func(fl *flag.Flag) {
		v := fl.Value.String()
		switch fl.Name {
		case "data":
			cfg.DataDir = v
		case "listen":
			cfg.Listen = v
		case "tls-cert":
			cfg.TLSCert = v
		case "tls-key":
			cfg.TLSKey = v
		case "insecure-http":
			cfg.InsecureHTTP = v == "true"
		case "log-level":
			cfg.LogLevel = v
		case "log-format":
			cfg.LogFormat = v
		}
	})
	if err := cfg.Validate(); err != nil {
		ce := usageError("serve", "%w", err).(*cliError)
		if errors.Is(err, config.ErrPlainHTTP) {
			ce.hint = plainHTTPHint
		}
		return cfg, ce
	}
	return cfg, nil
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

func newLogger(w io.Writer, cfg config.Config) (*slog.Logger, error) {
	level, err := config.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

func versionString() string {
	v, _ := buildVersion()
	return v
}

// startDemo makes a demo node in dir and returns its store and the lines to print once listening.
func startDemo(ctx context.Context, e *env, dir string, logger *slog.Logger, opts ...sqlite.Option) (_ store.Store, banner []string, err error) {
	st, err := createStore(ctx, dir, logger, opts...)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			closeStore(st, &err)
		}
	}()
	now := e.now()
	im := ingest.New(st, logger)
	owner := store.Organisation{ID: demo.Owner.ID, Name: demo.Owner.Name, CreatedAt: now}
	res, err := initNode(ctx, st, im, nodeSetup{Owner: owner, AdminName: "admin", Now: now})
	if err != nil {
		return nil, nil, fmt.Errorf("demo: %w", err)
	}
	rep, err := demo.Seed(ctx, st, im, now)
	if err != nil {
		return nil, nil, err
	}
	banner = []string{
		fmt.Sprintf("demo node in %s (removed on exit)", dir),
		fmt.Sprintf("demo data: %d objects in collection %q, shared by %d organisations; collections energy, telecom, government and an inbox per partner",
			rep.Accepted+rep.Duplicate, demo.CollectionAlias, len(demo.Organisations())),
		fmt.Sprintf("admin token for %s at %s: %s", res.Admin.Name, owner.Name, string(res.Token)),
	}
	// An analyst per organisation, so that each one's view can be tried over TAXII.
	for _, o := range demo.Organisations() {
		u := store.User{ID: uuid.NewString(), Name: "analyst-" + demo.Slug(o.ID), OrgID: o.ID, Role: store.RoleAnalyst, CreatedAt: now}
		if err := st.CreateUser(ctx, u); err != nil {
			return nil, nil, fmt.Errorf("demo: user %s: %w", u.Name, err)
		}
		secret, hash, err := server.NewToken()
		if err != nil {
			return nil, nil, err
		}
		if err := st.CreateToken(ctx, store.Token{ID: uuid.NewString(), UserID: u.ID, Hash: hash, CreatedAt: now}); err != nil {
			return nil, nil, fmt.Errorf("demo: token of %s: %w", u.Name, err)
		}
		banner = append(banner, fmt.Sprintf("token for %s (%s): %s", u.Name, o.Name, string(secret)))
	}
	return st, banner, nil
}
