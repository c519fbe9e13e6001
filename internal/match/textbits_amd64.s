#include "textflag.h"

// BCAST fills X register x with 16 copies of the byte c.
#define BCAST(c, x) \
	MOVQ $c, AX \
	MOVQ AX, x \
	PUNPCKLQDQ x, x

// RANGE ors into X1 the bytes of X0 in [lo, hi], given X(lo-1) in xlo and X(hi+1) in xhi (signed
// compares: bytes ≥ 0x80 are negative, so never in an ASCII range). Uses X2, X3.
#define RANGE(xlo, xhi) \
	MOVO X0, X2 \
	PCMPGTB xlo, X2 \
	MOVO xhi, X3 \
	PCMPGTB X0, X3 \
	PAND X3, X2 \
	POR X2, X1

// CHUNK classifies the 16 bytes at off(SI): their token bits go to DX, their '.' ':' '@' bits to
// DI, at bit sh.
#define CHUNK(off, sh) \
	MOVOU off(SI), X0 \
	PXOR X1, X1 \
	RANGE(X4, X5) \
	RANGE(X5, X6) \
	RANGE(X7, X8) \
	RANGE(X9, X10) \
	MOVO X0, X2 \
	PCMPEQB X11, X2 \
	POR X2, X1 \
	PMOVMSKB X1, AX \
	SHLQ $sh, AX \
	ORQ AX, DX \
	MOVO X0, X2 \
	PCMPEQB X12, X2 \
	MOVO X0, X3 \
	PCMPEQB X13, X3 \
	POR X3, X2 \
	MOVO X0, X3 \
	PCMPEQB X14, X3 \
	POR X3, X2 \
	PMOVMSKB X2, AX \
	SHLQ $sh, AX \
	ORQ AX, DI

// func classBlocks(b []byte, tok, sp []uint64)
TEXT ·classBlocks(SB), NOSPLIT, $0-72
	MOVQ b_base+0(FP), SI
	MOVQ tok_base+24(FP), R8
	MOVQ tok_len+32(FP), CX
	MOVQ sp_base+48(FP), R9
	BCAST(0x2c2c2c2c2c2c2c2c, X4) // '-'-1
	BCAST(0x2f2f2f2f2f2f2f2f, X5) // '.'+1, '0'-1
	BCAST(0x3b3b3b3b3b3b3b3b, X6) // ':'+1
	BCAST(0x3f3f3f3f3f3f3f3f, X7) // '@'-1
	BCAST(0x5b5b5b5b5b5b5b5b, X8) // 'Z'+1
	BCAST(0x6060606060606060, X9) // 'a'-1
	BCAST(0x7b7b7b7b7b7b7b7b, X10) // 'z'+1
	BCAST(0x5f5f5f5f5f5f5f5f, X11) // '_'
	BCAST(0x2e2e2e2e2e2e2e2e, X12) // '.'
	BCAST(0x3a3a3a3a3a3a3a3a, X13) // ':'
	BCAST(0x4040404040404040, X14) // '@'
	TESTQ CX, CX
	JEQ done

loop:
	XORQ DX, DX
	XORQ DI, DI
	CHUNK(0, 0)
	CHUNK(16, 16)
	CHUNK(32, 32)
	CHUNK(48, 48)
	MOVQ DX, (R8)
	MOVQ DI, (R9)
	ADDQ $64, SI
	ADDQ $8, R8
	ADDQ $8, R9
	DECQ CX
	JNE loop

done:
	RET
