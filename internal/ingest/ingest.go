package ingest

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/renkei-cti/renkei/internal/store"
)

// Importer runs imports into one store.
type Importer struct {
	store  store.Store
	logger *slog.Logger
}

// New returns an Importer writing to st.
func New(st store.Store, logger *slog.Logger) *Importer {
	return &Importer{store: st, logger: logger}
}

// Import reads r (a bundle, a bare object or a JSON array of objects) and writes what it holds.
func (im *Importer) Import(ctx context.Context, r io.Reader, opt Options) (Report, error) {
	return Report{}, errors.New("ingest: work in progress")
}
