package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// statsJSON is the --json form of store.Stats.
type statsJSON struct {
	Objects       int64            `json:"objects"`
	Versions      int64            `json:"versions"`
	ByType        map[string]int64 `json:"by_type"`
	Revoked       int64            `json:"revoked"`
	Collections   int64            `json:"collections"`
	Memberships   int64            `json:"memberships"`
	Relationships int64            `json:"relationships"`
	Observables   int64            `json:"observables"`
	Organisations int64            `json:"organisations"`
	Users         int64            `json:"users"`
	Bytes         int64            `json:"bytes"`
	SchemaVersion int              `json:"schema_version"`
}

func runStats(ctx context.Context, e *env, args []string) (err error) {
	f := newFlags(e, "stats", "renkei stats [--data DIR] [--json]", "Count what the node holds.")
	dir := f.dataDir()
	asJSON := f.Bool("json", false, "print JSON instead of a table")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("stats", "stats takes no arguments, found %q", pos[0])
	}
	st, err := openNode(ctx, *dir, e.logger)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	s, err := st.Stats(ctx)
	if err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	if *asJSON {
		byType := s.ByType
		if byType == nil {
			byType = map[string]int64{}
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(statsJSON{
			Objects: s.Objects, Versions: s.Versions, ByType: byType, Revoked: s.Revoked,
			Collections: s.Collections, Memberships: s.Memberships, Relationships: s.Relationships,
			Observables: s.Observables, Organisations: s.Organisations, Users: s.Users,
			Bytes: s.Bytes, SchemaVersion: s.SchemaVersion,
		})
	}
	type row struct {
		name string
		n    int64
	}
	rows := []row{
		{"objects", s.Objects}, {"versions", s.Versions}, {"revoked", s.Revoked},
		{"collections", s.Collections}, {"memberships", s.Memberships}, {"relationships", s.Relationships},
		{"observables", s.Observables}, {"organisations", s.Organisations}, {"users", s.Users},
		{"database bytes", s.Bytes}, {"schema version", int64(s.SchemaVersion)},
	}
	typeRows := make([]row, 0, len(s.ByType))
	for _, t := range slices.Sorted(maps.Keys(s.ByType)) {
		typeRows = append(typeRows, row{"  " + t, s.ByType[t]})
	}
	nameW, numW := 0, 0
	for _, r := range append(rows, typeRows...) {
		nameW = max(nameW, len(r.name))
		numW = max(numW, len(strconv.FormatInt(r.n, 10)))
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%-*s  %*d\n", nameW, r.name, numW, r.n)
	}
	if len(typeRows) > 0 {
		b.WriteString("\nobjects by type\n")
		for _, r := range typeRows {
			fmt.Fprintf(&b, "%-*s  %*d\n", nameW, r.name, numW, r.n)
		}
	}
	if _, err := io.WriteString(e.stdout, b.String()); err != nil {
		return fmt.Errorf("writing the output: %w", err)
	}
	return nil
}
