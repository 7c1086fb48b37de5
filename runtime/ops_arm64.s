//go:build arm64 && !purego

#include "textflag.h"

// func opsMaxPoolNEON(dst, src *float32, n, c, kh, kw, step, row, pix int)
//
// For each of n windows: dst[i*c+j] = max over the kh×kw window whose
// top-left pixel is src + i*step bytes (rows row bytes apart, pixels pix
// bytes apart), channel j. c is a multiple of 4. FMAX gives NaN when
// either operand is NaN, so, as in PyTorch, a NaN anywhere in a window
// makes the result NaN. Go's assembler has no vector FMAX: it is a WORD
// (FMAX Vd.4S, Vn.4S, Vm.4S = 0x4e20f400 | m<<16 | n<<5 | d).
TEXT ·opsMaxPoolNEON(SB), NOSPLIT, $0-72
	MOVD dst+0(FP), R0
	MOVD src+8(FP), R1
	MOVD n+16(FP), R2
	MOVD c+24(FP), R3
	LSL $2, R3 // bytes per pixel
	MOVD kh+32(FP), R4
	MOVD kw+40(FP), R5
	MOVD step+48(FP), R6
	MOVD row+56(FP), R7
	MOVD pix+64(FP), R14
	MOVW $0xff800000, R8 // -Inf
	VDUP R8, V31.S4
	CBZ R2, done

pixel:
	MOVD $0, R9 // byte offset of the channel block

block16:
	SUB R9, R3, R10
	CMP $64, R10
	BLT block4
	ADD R9, R1, R10
	VORR V31.B16, V31.B16, V0.B16
	VORR V31.B16, V31.B16, V1.B16
	VORR V31.B16, V31.B16, V2.B16
	VORR V31.B16, V31.B16, V3.B16
	MOVD R4, R11

row16:
	MOVD R10, R12
	MOVD R5, R13

col16:
	VLD1 (R12), [V4.S4, V5.S4, V6.S4, V7.S4]
	WORD $0x4e24f400 // FMAX V0.4S, V0.4S, V4.4S
	WORD $0x4e25f421 // FMAX V1.4S, V1.4S, V5.4S
	WORD $0x4e26f442 // FMAX V2.4S, V2.4S, V6.4S
	WORD $0x4e27f463 // FMAX V3.4S, V3.4S, V7.4S
	ADD R14, R12
	SUBS $1, R13
	BNE col16
	ADD R7, R10
	SUBS $1, R11
	BNE row16
	ADD R9, R0, R12
	VST1 [V0.S4, V1.S4, V2.S4, V3.S4], (R12)
	ADD $64, R9
	B block16

block4:
	CMP R3, R9
	BGE nextpixel
	ADD R9, R1, R10
	VORR V31.B16, V31.B16, V0.B16
	MOVD R4, R11

row4:
	MOVD R10, R12
	MOVD R5, R13

col4:
	FMOVQ (R12), F4
	WORD $0x4e24f400 // FMAX V0.4S, V0.4S, V4.4S
	ADD R14, R12
	SUBS $1, R13
	BNE col4
	ADD R7, R10
	SUBS $1, R11
	BNE row4
	ADD R9, R0, R12
	FMOVQ F0, (R12)
	ADD $16, R9
	B block4

nextpixel:
	ADD R3, R0
	ADD R6, R1
	SUBS $1, R2
	BNE pixel

done:
	RET
