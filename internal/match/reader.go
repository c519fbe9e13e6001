package match

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// Event is one log line read: where it is, its time, and the values in it to look up.
type Event struct {
	Line   int64 // 1-based line number
	Offset int64 // byte offset of the line in the input
	Cands  []Candidate
	// TimeText is the line's timestamp as written, nil when it has none; Timestamp parses it.
	TimeText   []byte
	timeLayout timeLayout
	scratch    *arena
	// work counts the bytes the text scanner examined, each pass over a byte once: tests check that
	// it stays linear in the length of the line.
	work int
	bits []uint64 // the text scanner's bitmaps of the line (classBits)
}

type timeLayout uint8

const (
	timeNone    timeLayout = iota
	timeEpoch              // seconds since 1970, with an optional fraction (Zeek, squid)
	timeRFC3339            // RFC 3339, also with a space for the T
	timeSyslog             // "Jan _2 15:04:05": the year is not written
)

// Timestamp parses TimeText. A syslog time has no year: year is used for it.
func (e *Event) Timestamp(year int) (time.Time, bool) {
	s := string(e.TimeText)
	switch e.timeLayout {
	case timeEpoch:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 || f > 1<<40 {
			return time.Time{}, false
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC().Round(time.Microsecond), true
	case timeRFC3339:
		if len(s) > 10 && s[10] == ' ' {
			s = s[:10] + "T" + s[11:]
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		return t.UTC(), err == nil
	case timeSyslog:
		t, err := time.Parse(time.Stamp, s)
		if err != nil {
			return time.Time{}, false
		}
		return t.AddDate(year, 0, 0).UTC(), true
	}
	return time.Time{}, false
}

func (e *Event) setTime(text []byte, l timeLayout) { e.TimeText, e.timeLayout = text, l }

// add appends a candidate.
func (e *Event) add(k Kind, v []byte) {
	if k == kindHostish {
		k = hostKind(v)
	}
	e.Cands = append(e.Cands, Candidate{k, v})
}

// concat returns the parts joined, in memory that stays valid as long as the event's candidates.
func (e *Event) concat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b := e.scratch.alloc(n)[:0]
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// arena hands out byte slices that stay valid until reset: it never moves what it gave.
type arena struct {
	cur  []byte
	full [][]byte
}

func (a *arena) alloc(n int) []byte {
	if a == nil {
		return make([]byte, n)
	}
	if cap(a.cur)-len(a.cur) < n {
		if len(a.cur) > 0 {
			a.full = append(a.full, a.cur)
		}
		a.cur = make([]byte, 0, max(n, 64<<10))
	}
	b := a.cur[len(a.cur) : len(a.cur)+n]
	a.cur = a.cur[:len(a.cur)+n]
	return b
}

func (a *arena) reset() {
	a.cur = a.cur[:0]
	a.full = a.full[:0]
}

// A Format reads one kind of log line by line.
type Format interface {
	// Start returns the parser for the first lines.
	Start() Parser
	// Header is called, in input order, with line 1 and with every line that starts with '#'. When
	// the line is a header — it changes how the lines after it are read and holds no values, such
	// as Zeek's "#fields" or a CSV header — it returns the parser for the lines after it and true.
	Header(cur Parser, line []byte, lineNo int64) (Parser, bool, error)
}

// Parser reads the lines between two headers. Parse is called from several goroutines at once.
type Parser interface {
	// Parse appends the values of one line (without its line ending) to ev.Cands and sets its time.
	Parse(line []byte, ev *Event) error
}

// LineError is an error in one line of the input.
type LineError struct {
	Line int64
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// ReadOptions bound reading.
type ReadOptions struct {
	// MaxLine is the longest line accepted, in bytes (0: DefaultMaxLine). A longer line is an error.
	MaxLine int
	// ChunkSize is how much input is read at a time, in bytes (0: 1 MiB). The Matcher hands each
	// chunk to one worker.
	ChunkSize int
}

// DefaultMaxLine is the default bound on a line.
const DefaultMaxLine = 64 << 10

func (o ReadOptions) maxLine() int   { return cmpOr(o.MaxLine, DefaultMaxLine) }
func (o ReadOptions) chunkSize() int { return cmpOr(o.ChunkSize, 1<<20) }

func cmpOr(a, b int) int {
	if a > 0 {
		return a
	}
	return b
}

var errTooLongLine = errors.New("line too long")

// chunk is a run of whole lines read with one parser.
type chunk struct {
	data   []byte
	line   int64 // number of the first line
	offset int64 // offset of data[0]
	parser Parser
	buf    *[]byte // the buffer data lives in, to recycle
}

// chunker cuts the input into chunks of whole lines and applies header lines in order.
type chunker struct {
	r       io.Reader
	f       Format
	maxLine int
	size    int
	parser  Parser
	line    int64 // number of the next line
	offset  int64
	carry   []byte
	eof     bool
	free    chan *[]byte
}

func newChunker(r io.Reader, f Format, o ReadOptions) *chunker {
	return &chunker{r: r, f: f, maxLine: o.maxLine(), size: o.chunkSize(), parser: f.Start(), line: 1,
		free: make(chan *[]byte, 16)}
}

func (c *chunker) getBuf() *[]byte {
	select {
	case b := <-c.free:
		return b
	default:
		if b, ok := chunkBufs.Get().(*[]byte); ok && cap(*b) >= c.size+c.maxLine+1 {
			return b
		}
		b := make([]byte, 0, c.size+c.maxLine+1)
		return &b
	}
}

// chunkBufs keeps chunk buffers from one run (or Read) to the next: a run of a few MB would
// otherwise spend a good part of its time allocating and clearing them.
var chunkBufs sync.Pool

// release hands the buffers the chunker holds to the next chunker.
func (c *chunker) release() {
	for {
		select {
		case b := <-c.free:
			chunkBufs.Put(b)
		default:
			return
		}
	}
}

// recycle returns a chunk's buffer for reuse.
func (c *chunker) recycle(ch chunk) {
	if ch.buf == nil {
		return
	}
	select {
	case c.free <- ch.buf:
	default:
	}
}

// next returns the next chunk, or io.EOF.
func (c *chunker) next(ctx context.Context) (chunk, error) {
	for {
		if err := ctx.Err(); err != nil {
			return chunk{}, err
		}
		bp := c.getBuf()
		data := append((*bp)[:0], c.carry...)
		c.carry = c.carry[:0]
		// Read until there is a whole chunk, a line end past the chunk size, or the end.
		for !c.eof && len(data) < c.size {
			n, err := c.r.Read(data[len(data):cap(data)])
			data = data[:len(data)+n]
			if errors.Is(err, io.EOF) {
				c.eof = true
			} else if err != nil {
				return chunk{}, fmt.Errorf("reading line %d: %w", c.line, err)
			}
		}
		for !c.eof && bytes.IndexByte(data[max(0, len(data)-c.maxLine-1):], '\n') < 0 {
			if len(data) == cap(data) {
				return chunk{}, &LineError{c.line + int64(bytes.Count(data, []byte{'\n'})), fmt.Errorf("%w: longer than %d bytes", errTooLongLine, c.maxLine)}
			}
			n, err := c.r.Read(data[len(data):cap(data)])
			data = data[:len(data)+n]
			if errors.Is(err, io.EOF) {
				c.eof = true
			} else if err != nil {
				return chunk{}, fmt.Errorf("reading line %d: %w", c.line, err)
			}
		}
		if len(data) == 0 && c.eof {
			return chunk{}, io.EOF
		}
		// Header lines at the start.
		for len(data) > 0 && (c.line == 1 || data[0] == '#') {
			end := bytes.IndexByte(data, '\n')
			if end < 0 {
				if !c.eof {
					break
				}
				end = len(data)
			}
			line := trimCR(data[:end])
			if len(line) > c.maxLine {
				return chunk{}, &LineError{c.line, fmt.Errorf("%w: longer than %d bytes", errTooLongLine, c.maxLine)}
			}
			p, ok, err := c.f.Header(c.parser, line, c.line)
			if err != nil {
				return chunk{}, &LineError{c.line, err}
			}
			if !ok {
				break
			}
			c.parser = p
			c.line++
			step := min(end+1, len(data))
			c.offset += int64(step)
			data = data[step:]
		}
		// Cut after the last whole line, and before the next header line.
		cut := len(data)
		if !c.eof {
			cut = bytes.LastIndexByte(data, '\n') + 1
		}
		if h := indexHeaderLine(data[:cut]); h >= 0 {
			cut = h + 1
		}
		c.carry = append(c.carry, data[cut:]...)
		if cut == 0 {
			if len(c.carry) == 0 && c.eof {
				return chunk{}, io.EOF
			}
			c.recycle(chunk{buf: bp})
			continue
		}
		ch := chunk{data: data[:cut], line: c.line, offset: c.offset, parser: c.parser, buf: bp}
		c.line += int64(bytes.Count(ch.data, []byte{'\n'}))
		if ch.data[len(ch.data)-1] != '\n' {
			c.line++
		}
		c.offset += int64(cut)
		return ch, nil
	}
}

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

// eachLine calls fn for every line of a chunk with its number and offset.
func (ch chunk) eachLine(maxLine int, fn func(line []byte, no, off int64) error) error {
	data, no, off := ch.data, ch.line, ch.offset
	for len(data) > 0 {
		end := bytes.IndexByte(data, '\n')
		next := end + 1
		if end < 0 {
			end, next = len(data), len(data)
		}
		line := trimCR(data[:end])
		if len(line) > maxLine {
			return &LineError{no, fmt.Errorf("%w: %d bytes, longer than %d", errTooLongLine, len(line), maxLine)}
		}
		if err := fn(line, no, off); err != nil {
			return err
		}
		data = data[next:]
		no++
		off += int64(next)
	}
	return nil
}

// Read reads r line by line in format f and calls fn with each event, in order. The event and the
// values it points to are valid during the call only. Errors are *LineError when they concern a
// line; fn's own error stops the reading and is returned as is.
func Read(ctx context.Context, r io.Reader, f Format, o ReadOptions, fn func(*Event) error) error {
	c := newChunker(r, f, o)
	defer c.release()
	ev := &Event{scratch: &arena{}}
	for {
		ch, err := c.next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		err = ch.eachLine(c.maxLine, func(line []byte, no, off int64) error {
			ev.reset(no, off)
			if err := ch.parser.Parse(line, ev); err != nil {
				return &LineError{no, err}
			}
			return fn(ev)
		})
		if err != nil {
			return err
		}
		c.recycle(ch)
	}
}

func (e *Event) reset(no, off int64) {
	e.Line, e.Offset = no, off
	e.Cands = e.Cands[:0]
	e.TimeText, e.timeLayout = nil, timeNone
	e.scratch.reset()
}

// indexHeaderLine is bytes.Index(d, "\n#"), looking for the rare '#' rather than every line end.
func indexHeaderLine(d []byte) int {
	for off := 1; off < len(d); {
		i := bytes.IndexByte(d[off:], '#')
		if i < 0 {
			return -1
		}
		i += off
		if d[i-1] == '\n' {
			return i - 1
		}
		off = i + 1
	}
	return -1
}
