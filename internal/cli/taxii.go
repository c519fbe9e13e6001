package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/renkei-cti/renkei/internal/taxiiclient"
)

// envTAXIIToken holds the TAXII token when neither --token nor --token-file is given.
const envTAXIIToken = "RENKEI_TAXII_TOKEN"

const taxiiHelp = `usage: renkei taxii discover URL [-o json|table]
       renkei taxii collections URL [-o table|json]
       renkei taxii get URL --collection ID [--id X,...] [--type T,...] [--added-after T] [--limit N]
       renkei taxii pull URL --collection ID [--data DIR] [--into C] [--cursor-file F]
       renkei taxii push URL --collection ID FILE...

Talk to a TAXII 2.1 server: renkei's own or any other. URL is the server (https://host[:port]),
its discovery URL (…/taxii2/), or an API root (https://host/api1/). When it names no API root, the
server's default API root is used (or its only one).

Authentication: HTTP Basic with --user and the token as the password, else a Bearer token. The token
comes from --token-file FILE (best: it stays out of the process list and the shell history), else
--token, else $` + envTAXIIToken + `. It is never printed.

The server's certificate is always verified: against the system's roots, or the CA certificates in
--ca FILE for a private CA or a self-signed certificate. There is no flag to skip verification: a
client that accepts any certificate hands its token, and the data, to whoever sits on the path. Plain
http:// is accepted only to this machine (localhost), unless --allow-plain-http.

Run 'renkei taxii COMMAND -h' for the flags of each command.
`

func runTaxii(ctx context.Context, e *env, args []string) error {
	return runSub(ctx, e, "taxii", taxiiHelp, []subcommand{
		{"discover", runTaxiiDiscover},
		{"collections", runTaxiiCollections},
		{"get", runTaxiiGet},
		{"pull", runTaxiiPull},
		{"push", runTaxiiPush},
	}, args)
}

// taxiiConn holds the connection flags every taxii command has.
type taxiiConn struct {
	f              *flagSet
	user           *string
	token          *string
	tokenFile      *string
	ca             *string
	timeout        *time.Duration
	allowPlainHTTP *bool
}

func newTaxiiFlags(e *env, cmd, usage, about string) (*flagSet, *taxiiConn) {
	f := newFlags(e, "taxii "+cmd, usage, about)
	c := &taxiiConn{f: f}
	c.user = f.String("user", "", "authenticate with HTTP Basic as this `user`, the token being the password (default: Bearer)")
	c.token = f.String("token", "", "the API `token` (visible to other users in the process list: prefer --token-file or $"+envTAXIIToken+")")
	c.tokenFile = f.String("token-file", "", "read the token from the first line of `FILE`")
	c.ca = f.String("ca", "", "trust the CA certificates in this PEM `FILE` for the server's certificate, instead of the system's")
	c.timeout = f.Duration("timeout", taxiiclient.DefaultTimeout, "bound each HTTP request to this `duration`")
	c.allowPlainHTTP = f.Bool("allow-plain-http", false, "allow sending the token over http:// to a host other than localhost")
	return f, c
}

// auth reads the credentials from the flags, the token file or the environment.
func (c *taxiiConn) auth() (taxiiclient.Auth, error) {
	a := taxiiclient.Auth{Username: *c.user}
	switch {
	case *c.tokenFile != "" && *c.token != "":
		return a, usageError("taxii", "give the token with --token or --token-file, not both")
	case *c.tokenFile != "":
		data, err := readSmallFile(*c.tokenFile, 64<<10)
		if err != nil {
			return a, withHint(fmt.Errorf("token file: %w", err), "--token-file names a file holding the token on its first line")
		}
		line, _, _ := strings.Cut(string(data), "\n")
		a.Token = taxiiclient.Secret(strings.TrimSpace(line))
		if a.Token == "" {
			return a, withHint(fmt.Errorf("token file %s is empty", *c.tokenFile), "put the token on the file's first line")
		}
	case *c.token != "":
		a.Token = taxiiclient.Secret(*c.token)
	default:
		a.Token = taxiiclient.Secret(strings.TrimSpace(c.f.e.getenv(envTAXIIToken)))
	}
	if a.Username != "" && a.Token == "" {
		return a, usageError("taxii", "--user needs a token: give --token-file, --token or $%s", envTAXIIToken)
	}
	return a, nil
}

// readSmallFile reads a file of at most limit bytes.
func readSmallFile(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, limit)
	}
	return data, nil
}

// client makes the TAXII client for rawURL and returns it with the URL's path.
func (c *taxiiConn) client(e *env, rawURL string) (*taxiiclient.Client, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, "", usageError("taxii", "%q is not a TAXII URL: give https://host[:port][/api-root/]", rawURL)
	}
	if u.User != nil {
		return nil, "", usageError("taxii", "the URL holds credentials: give them with --user and --token-file instead")
	}
	auth, err := c.auth()
	if err != nil {
		return nil, "", err
	}
	cl, err := taxiiclient.New(taxiiclient.Options{
		BaseURL: u.Scheme + "://" + u.Host, Auth: auth, CAFile: *c.ca, Timeout: *c.timeout,
		AllowPlainHTTP: *c.allowPlainHTTP, UserAgent: "renkei/" + versionString(), Logger: e.logger,
	})
	if err != nil {
		hint := "check the URL and the flags"
		if strings.Contains(err.Error(), "plain http") {
			hint = "use https://, or pass --allow-plain-http if the network path is trusted"
		}
		return nil, "", withHint(err, hint)
	}
	return cl, u.Path, nil
}

// apiRoot returns the API root URL names, or the server's default root when it names none.
func apiRoot(ctx context.Context, cl *taxiiclient.Client, path string) (string, error) {
	p := strings.TrimSuffix(path, "/")
	if p != "" && p != "/taxii2" {
		return path, nil
	}
	d, err := cl.Discover(ctx)
	if err != nil {
		return "", taxiiError(err)
	}
	roots := cl.ResolveRoots(d)
	switch {
	case d.Default != "":
		u, err := url.Parse(d.Default)
		if err != nil {
			return "", fmt.Errorf("the server's default API root %q: %w", d.Default, err)
		}
		return cl.BaseURL.ResolveReference(u).String(), nil
	case len(roots) == 1:
		return roots[0], nil
	case len(roots) == 0:
		return "", withHint(errors.New("the server advertises no API root"), "give the API root's URL, e.g. https://host/api1/")
	}
	return "", withHint(fmt.Errorf("the server has %d API roots and no default", len(roots)),
		"give one of them as the URL: "+strings.Join(roots, ", "))
}

// taxiiError adds a hint to the errors a TAXII server answers.
func taxiiError(err error) error {
	var hint string
	switch {
	case errors.Is(err, taxiiclient.ErrUnauthorized):
		hint = "the server refused the credentials: check --user and the token"
	case errors.Is(err, taxiiclient.ErrForbidden):
		hint = "the server knows the credentials but does not allow this; 'renkei taxii collections' shows can_read and can_write"
	case errors.Is(err, taxiiclient.ErrNotFound):
		hint = "check the API root and the collection id ('renkei taxii collections URL' lists them)"
	case errors.Is(err, taxiiclient.ErrContentType):
		hint = "the URL does not lead to a TAXII 2.1 server"
	case errors.Is(err, taxiiclient.ErrResponseTooLarge):
		hint = "ask for smaller pages"
	case strings.Contains(err.Error(), "certificate"):
		hint = "give the server's CA certificate with --ca FILE"
	}
	if hint == "" {
		return err
	}
	return withHint(err, hint)
}

// oneURL checks the positional arguments hold exactly one URL.
func oneURL(cmd string, pos []string) (string, error) {
	if len(pos) != 1 {
		return "", usageError("taxii", "taxii %s takes exactly one URL, found %d arguments", cmd, len(pos))
	}
	return pos[0], nil
}

func outputFlag(f *flagSet, def string) *string {
	return f.String("o", def, "output `format`: json or table")
}

func checkOutput(o string) error {
	if o != "json" && o != "table" {
		return usageError("taxii", "-o %q: use json or table", o)
	}
	return nil
}

func writeJSON(e *env, v any) error {
	b, err := json.Marshal(v, jsontext.WithIndent("  "))
	if err != nil {
		return fmt.Errorf("encoding the output: %w", err)
	}
	if _, err := fmt.Fprintf(e.stdout, "%s\n", b); err != nil {
		return fmt.Errorf("writing the output: %w", err)
	}
	return nil
}

type apiRootInfo struct {
	URL string `json:"url"`
	*taxiiclient.APIRoot
	Error string `json:"error,omitempty"`
}

func runTaxiiDiscover(ctx context.Context, e *env, args []string) error {
	f, conn := newTaxiiFlags(e, "discover", "renkei taxii discover URL [-o json|table] [connection flags]",
		"Print the server's discovery resource, then each advertised API root's resource.")
	out := outputFlag(f, "json")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	raw, err := oneURL("discover", pos)
	if err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	cl, _, err := conn.client(e, raw)
	if err != nil {
		return err
	}
	d, err := cl.Discover(ctx)
	if err != nil {
		return taxiiError(err)
	}
	var roots []apiRootInfo
	for _, r := range cl.ResolveRoots(d) {
		info := apiRootInfo{URL: r}
		ar, err := cl.APIRoot(ctx, r)
		if err != nil {
			info.Error = err.Error()
		} else {
			info.APIRoot = ar
		}
		roots = append(roots, info)
	}
	if *out == "json" {
		return writeJSON(e, struct {
			Discovery *taxiiclient.Discovery `json:"discovery"`
			APIRoots  []apiRootInfo          `json:"api_roots,omitempty"`
		}{d, roots})
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "title:\t%s\n", oneLine(d.Title))
	if d.Description != "" {
		fmt.Fprintf(tw, "description:\t%s\n", oneLine(d.Description))
	}
	if d.Contact != "" {
		fmt.Fprintf(tw, "contact:\t%s\n", oneLine(d.Contact))
	}
	if d.Default != "" {
		fmt.Fprintf(tw, "default:\t%s\n", oneLine(d.Default))
	}
	fmt.Fprintln(tw, "\nAPI ROOT\tTITLE\tMAX CONTENT LENGTH\tVERSIONS")
	for _, r := range roots {
		if r.APIRoot == nil {
			fmt.Fprintf(tw, "%s\t(error: %s)\t\t\n", oneLine(r.URL), oneLine(r.Error))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", oneLine(r.URL), oneLine(r.Title), r.MaxContentLength, oneLine(strings.Join(r.Versions, " ")))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the output: %w", err)
	}
	return nil
}

// oneLine keeps what a server sent from breaking a table or the terminal: control characters become
// spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

func runTaxiiCollections(ctx context.Context, e *env, args []string) error {
	f, conn := newTaxiiFlags(e, "collections", "renkei taxii collections URL [-o table|json] [connection flags]",
		"List the collections of an API root (the server's default one when URL names none): their id,\ntitle, and whether you may read and write them.")
	out := outputFlag(f, "table")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	raw, err := oneURL("collections", pos)
	if err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	cl, path, err := conn.client(e, raw)
	if err != nil {
		return err
	}
	root, err := apiRoot(ctx, cl, path)
	if err != nil {
		return err
	}
	cols, err := cl.Collections(ctx, root)
	if err != nil {
		return taxiiError(err)
	}
	if *out == "json" {
		return writeJSON(e, struct {
			Collections []taxiiclient.Collection `json:"collections"`
		}{cols})
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tREAD\tWRITE\tTITLE")
	for _, c := range cols {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", oneLine(c.ID), yesNo(c.CanRead), yesNo(c.CanWrite), oneLine(c.Title))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the output: %w", err)
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
