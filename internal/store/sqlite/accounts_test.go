package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/store/storetest"
)

func TestAccountsConformance(t *testing.T) {
	storetest.RunAccounts(t, func(t *testing.T) store.Store {
		return openAt(t, filepath.Join(t.TempDir(), "renkei.db"))
	})
}

// TestAuditAppendOnly checks that the database itself refuses to change or delete audit records.
func TestAuditAppendOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "renkei.db")
	s := openAt(t, path)
	if _, err := s.AppendAudit(t.Context(), store.AuditRecord{Actor: "cli:test", Action: "org.add", Target: "x"}); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	for _, q := range []string{`UPDATE audit_log SET actor = 'someone else'`, `DELETE FROM audit_log`} {
		if _, err := db.Exec(q); err == nil {
			t.Errorf("%s: allowed", q)
		}
	}
	rs, err := s.ListAudit(t.Context(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Actor != "cli:test" {
		t.Errorf("audit log after tampering attempts = %+v", rs)
	}
}
