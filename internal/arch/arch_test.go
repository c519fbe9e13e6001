package arch

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/renkei-cti/renkei/"

// layers gives each internal package (by its path under internal/, or a prefix ending in "/") its rank.
// A package may import only packages of a lower rank, or its own family (store/sqlite → store).
var layers = map[string]int{
	"testdata":     0,
	"config":       0,
	"stix":         1,
	"stix/":        1,
	"store":        2,
	"store/":       2,
	"policy":       3,
	"policy/":      3,
	"provenance":   3,
	"match":        3,
	"match/":       3,
	"correlate":    3,
	"formats":      3,
	"formats/":     3,
	"formats/misp": 4, // maps MISP distribution and sharing groups to policy's markings
	"ingest":       4,
	"taxii":        5,
	"server":       6,
	"web":          6,
	"federation":   6,
	"taxiiclient":  5,
	"taxiiclient/": 5,
	"demo":         6,
	"cli":          7,
}

// httpAllowed are the packages that may import net/http.
var httpAllowed = map[string]bool{"server": true, "taxii": true, "web": true, "taxiiclient": true, "federation": true, "cli": true}

func rank(t *testing.T, pkg string) (int, string) {
	t.Helper()
	rel := strings.TrimPrefix(pkg, module+"internal/")
	if r, ok := layers[rel]; ok {
		return r, rel
	}
	for p, r := range layers {
		if strings.HasSuffix(p, "/") && strings.HasPrefix(rel, p) {
			return r, strings.TrimSuffix(p, "/")
		}
	}
	t.Errorf("package %s has no layer: add it to layers in internal/arch (and to docs/ARCHITECTURE.md)", pkg)
	return -1, rel
}

func TestImportsFlowOneWay(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"internal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		pkg, imports := fields[0], fields[1:]
		if pkg == module+"internal/arch" {
			continue
		}
		r, fam := rank(t, pkg)
		for _, imp := range imports {
			if imp == "net/http" && !httpAllowed[fam] {
				t.Errorf("%s imports net/http: HTTP belongs in server, taxii, web, taxiiclient and federation", pkg)
			}
			if !strings.HasPrefix(imp, module+"internal/") {
				continue
			}
			ir, ifam := rank(t, imp)
			if ifam == fam {
				continue
			}
			if ir >= r {
				t.Errorf("%s (layer %d) imports %s (layer %d): imports must flow downwards", pkg, r, imp, ir)
			}
		}
		checked++
	}
	if checked < 8 {
		t.Fatalf("checked only %d packages; go list output:\n%s", checked, out)
	}
}
