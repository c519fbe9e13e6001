package taxii

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"

	"github.com/renkei-cti/renkei/internal/store"
)

// A next value is the store cursor and a MAC that binds it to the viewer, the endpoint, the
// collection, the object and every filter of the query, so that it cannot be used for another
// query or by another user (it would reveal where that query stood), nor forged.
const macSize = 16

func (h *Handler) sealCursor(c store.Cursor, binding string) string {
	var b [16 + macSize]byte
	binary.BigEndian.PutUint64(b[0:8], uint64(c.At))
	binary.BigEndian.PutUint64(b[8:16], uint64(c.Seq))
	copy(b[16:], h.mac(b[:16], binding))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (h *Handler) openCursor(s, binding string) (store.Cursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 16+macSize || !hmac.Equal(b[16:], h.mac(b[:16], binding)) {
		return store.Cursor{}, false
	}
	return store.Cursor{At: int64(binary.BigEndian.Uint64(b[0:8])), Seq: int64(binary.BigEndian.Uint64(b[8:16]))}, true
}

func (h *Handler) mac(pos []byte, binding string) []byte {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(binding))
	m.Write([]byte{0})
	m.Write(pos)
	return m.Sum(nil)[:macSize]
}
