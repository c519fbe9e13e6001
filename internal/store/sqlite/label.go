package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// How labels are kept. Every form carries its own label (cell, grp) and its object's label
// (obj_cell, obj_grp, obj_owner: the latest form's), so that a read scope is two conditions on the
// row itself. A Labeler computes a label inside the write transaction, asking the store about
// marking definitions and sharing groups through a batchDir; a marking definition it cannot resolve
// is recorded in label_pending, and when a marking definition with that id is written, the forms
// waiting on it are labelled again in the same transaction.

// noLabel is the labeling of every form when the store has no Labeler.
var noLabel = store.Labeling{Label: store.Label{Cell: store.NoLabelCell}}

// batchDir answers a Labeler's questions inside one write transaction: marking definitions the batch
// writes first, then those stored. Answers are cached for the batch.
type batchDir struct {
	ctx      context.Context
	w        *writer
	written  map[string]*stix.Object // marking definitions the batch writes, by id
	markings map[string]*stix.Object // looked up: nil when absent
	owners   map[string]string       // sharing groups looked up: "" when absent
	err      error                   // the first lookup failure
}

func newBatchDir(ctx context.Context, w *writer) *batchDir {
	return &batchDir{ctx: ctx, w: w, written: map[string]*stix.Object{}, markings: map[string]*stix.Object{}, owners: map[string]string{}}
}

func (d *batchDir) MarkingDefinition(id string) (*stix.Object, bool) {
	if o := d.written[id]; o != nil {
		return o, true
	}
	if o, ok := d.markings[id]; ok {
		return o, o != nil
	}
	o, err := d.lookupMarking(id)
	if err != nil && d.err == nil {
		d.err = err
	}
	d.markings[id] = o
	return o, o != nil
}

func (d *batchDir) lookupMarking(id string) (*stix.Object, error) {
	st, err := d.w.stmt(d.ctx, `SELECT v.raw FROM id_keys k CROSS JOIN object_versions v ON v.vid = k.vid
		WHERE k.hash = ? AND v.id = ? AND v.latest`)
	if err != nil {
		return nil, err
	}
	var raw []byte
	switch err := st.QueryRowContext(d.ctx, idHash(id), id).Scan(&raw); {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("look up marking definition %s: %w", id, err)
	}
	o, err := stix.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("stored marking definition %s: %w", id, err)
	}
	return o, nil
}

func (d *batchDir) GroupOwner(groupID string) (string, bool) {
	if o, ok := d.owners[groupID]; ok {
		return o, o != ""
	}
	var owner string
	st, err := d.w.stmt(d.ctx, `SELECT owner_org FROM sharing_groups WHERE id = ?`)
	if err == nil {
		err = st.QueryRowContext(d.ctx, groupID).Scan(&owner)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) && d.err == nil {
		d.err = fmt.Errorf("look up sharing group %s: %w", groupID, err)
	}
	d.owners[groupID] = owner
	return owner, owner != ""
}

// labelOf runs the Labeler on one object.
func (s *Store) labelOf(obj *stix.Object, dir *batchDir) store.Labeling {
	if s.labeler == nil {
		return noLabel
	}
	l := s.labeler.Label(obj, dir)
	if l.Cell >= 64 {
		l.Cell = store.NoLabelCell
	}
	return l
}

// pendingLabel is a marking definition a new form's label could not resolve.
type pendingLabel struct {
	marking string
	vid     int64
}

// labelRows labels the batch's new forms, recording each label in its verState, and returns the
// marking definitions they could not resolve.
func (s *Store) labelRows(ctx context.Context, w *writer, rows []newRow) (*batchDir, []pendingLabel) {
	dir := newBatchDir(ctx, w)
	for i := range rows {
		if o := rows[i].nv.Object; o.Type == "marking-definition" {
			dir.written[o.ID] = o
		}
	}
	var pending []pendingLabel
	for i := range rows {
		r := &rows[i]
		l := s.labelOf(r.nv.Object, dir)
		r.st.versions[r.idx].label = l.Label
		for _, m := range l.Unresolved {
			pending = append(pending, pendingLabel{m, r.vid})
		}
	}
	return dir, pending
}

// setObjectLabel gives every stored form of an object the label and creator of its latest form.
func setObjectLabel(ctx context.Context, w *writer, st *objState) error {
	top := &st.versions[st.latest]
	var vids []int64
	for _, v := range st.versions {
		if v.inDB {
			vids = append(vids, v.vid)
		}
	}
	upd, err := w.stmt(ctx, `UPDATE object_versions SET obj_cell = ?, obj_grp = ?, obj_owner = ? WHERE vid IN (`+inList+`)`)
	if err != nil {
		return err
	}
	return inChunks(vids, func(args []any) error {
		_, err := upd.ExecContext(ctx, append([]any{top.label.Cell, top.label.Group, top.creator}, args...)...)
		if err != nil {
			return fmt.Errorf("update the object label: %w", err)
		}
		return nil
	})
}

// relabelStep is how many waiting forms are labelled again at a time: a marking definition that
// thousands of stored forms were waiting for is applied in the same transaction, in steps.
const relabelStep = 1000

// resolvePending records the marking definitions the batch's forms could not resolve, then labels
// again the stored forms that were waiting for a marking definition the batch writes.
func (s *Store) resolvePending(ctx context.Context, w *writer, dir *batchDir, pending []pendingLabel) error {
	if dir.err != nil {
		return dir.err
	}
	if len(pending) > 0 {
		args := make([]any, 0, 2*len(pending))
		for _, p := range pending {
			args = append(args, p.marking, p.vid)
		}
		if err := insPending.exec(ctx, w, args); err != nil {
			return err
		}
	}
	if len(dir.written) == 0 {
		return nil
	}
	markings := make([]string, 0, len(dir.written))
	for id := range dir.written {
		markings = append(markings, id)
	}
	slices.Sort(markings)
	for _, m := range markings {
		if err := s.relabelWaiting(ctx, w, m); err != nil {
			return fmt.Errorf("label again the forms marked with %s: %w", m, err)
		}
	}
	return nil
}

// relabelWaiting labels again every form waiting for marking definition m.
func (s *Store) relabelWaiting(ctx context.Context, w *writer, m string) error {
	// A form may still wait for m afterwards (a sharing group's marking the Labeler does not trust):
	// the walk goes on from the last vid, so it ends.
	var after int64
	for {
		vids, err := queryInts(ctx, w, `SELECT vid FROM label_pending WHERE marking = ? AND vid > ? ORDER BY vid LIMIT ?`,
			m, after, relabelStep)
		if err != nil || len(vids) == 0 {
			return err
		}
		if err := s.relabel(ctx, w, vids); err != nil {
			return err
		}
		after = vids[len(vids)-1]
	}
}

func queryInts(ctx context.Context, w *writer, q string, args ...any) ([]int64, error) {
	st, err := w.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// relabel labels the forms vids again, with a directory that sees everything written so far, and
// moves their object labels when they are their object's latest form.
func (s *Store) relabel(ctx context.Context, w *writer, vids []int64) error {
	type form struct {
		vid    int64
		latest bool
		obj    *stix.Object
	}
	var forms []form
	sel, err := w.stmt(ctx, `SELECT vid, latest, raw FROM object_versions WHERE vid IN (`+inList+`)`)
	if err != nil {
		return err
	}
	err = inChunks(vids, func(args []any) error {
		rows, err := sel.QueryContext(ctx, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var f form
			var raw []byte
			if err := rows.Scan(&f.vid, &f.latest, &raw); err != nil {
				return err
			}
			if slices.ContainsFunc(forms, func(g form) bool { return g.vid == f.vid }) {
				continue // the padding of the IN list repeats a vid
			}
			if f.obj, err = stix.Decode(raw); err != nil {
				return fmt.Errorf("stored form %d: %w", f.vid, err)
			}
			forms = append(forms, f)
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	dir := newBatchDir(ctx, w)
	del, err := w.stmt(ctx, `DELETE FROM label_pending WHERE vid = ?`)
	if err != nil {
		return err
	}
	upd, err := w.stmt(ctx, `UPDATE object_versions SET cell = ?, grp = ? WHERE vid = ?`)
	if err != nil {
		return err
	}
	updObj, err := w.stmt(ctx, `UPDATE object_versions SET obj_cell = ?, obj_grp = ?
		WHERE vid IN (SELECT k.vid FROM id_keys k WHERE k.hash = ?) AND id = ?`)
	if err != nil {
		return err
	}
	var pending []any
	for _, f := range forms {
		l := s.labelOf(f.obj, dir)
		if dir.err != nil {
			return dir.err
		}
		if _, err := del.ExecContext(ctx, f.vid); err != nil {
			return err
		}
		if _, err := upd.ExecContext(ctx, l.Cell, l.Group, f.vid); err != nil {
			return err
		}
		if f.latest {
			if _, err := updObj.ExecContext(ctx, l.Cell, l.Group, idHash(f.obj.ID), f.obj.ID); err != nil {
				return err
			}
		}
		for _, m := range l.Unresolved {
			pending = append(pending, m, f.vid)
		}
	}
	if len(pending) > 0 {
		return insPending.exec(ctx, w, pending)
	}
	return nil
}
