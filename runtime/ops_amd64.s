//go:build amd64 && !purego

#include "textflag.h"

// func opsMaxPoolAVX2(dst, src *float32, n, c, kh, kw, step, row, pix int)
//
// For each of n windows: dst[i*c+j] = max over the kh×kw window whose
// top-left pixel is src + i*step bytes (rows row bytes apart, pixels pix
// bytes apart), channel j. c is a multiple of 8. Like PyTorch, an element
// replaces the running maximum when it is greater (so of equal values the
// first stays) and a NaN anywhere makes the result NaN.
TEXT ·opsMaxPoolAVX2(SB), NOSPLIT, $0-72
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ c+24(FP), DX
	SHLQ $2, DX // bytes per pixel
	MOVQ kh+32(FP), R8
	MOVQ kw+40(FP), R9
	MOVQ step+48(FP), R10
	MOVQ row+56(FP), R11
	MOVQ pix+64(FP), R15
	MOVL $0xff800000, AX // -Inf
	MOVQ AX, X15
	VPBROADCASTD X15, Y15
	TESTQ CX, CX
	JZ done

pixel:
	XORQ R12, R12 // byte offset of the channel block

block32:
	MOVQ DX, AX
	SUBQ R12, AX
	CMPQ AX, $128
	JLT block8
	LEAQ (SI)(R12*1), AX
	VMOVAPS Y15, Y0
	VMOVAPS Y15, Y1
	VMOVAPS Y15, Y2
	VMOVAPS Y15, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ R8, R13

row32:
	MOVQ AX, BX
	MOVQ R9, R14

col32:
	VMOVUPS (BX), Y8
	VMOVUPS 32(BX), Y9
	VMOVUPS 64(BX), Y10
	VMOVUPS 96(BX), Y11
	VCMPPS $3, Y8, Y8, Y12
	VCMPPS $3, Y9, Y9, Y13
	VORPS Y12, Y4, Y4
	VORPS Y13, Y5, Y5
	VCMPPS $3, Y10, Y10, Y12
	VCMPPS $3, Y11, Y11, Y13
	VORPS Y12, Y6, Y6
	VORPS Y13, Y7, Y7
	VMAXPS Y0, Y8, Y0
	VMAXPS Y1, Y9, Y1
	VMAXPS Y2, Y10, Y2
	VMAXPS Y3, Y11, Y3
	ADDQ R15, BX
	DECQ R14
	JNZ col32
	ADDQ R11, AX
	DECQ R13
	JNZ row32
	VORPS Y4, Y0, Y0
	VORPS Y5, Y1, Y1
	VORPS Y6, Y2, Y2
	VORPS Y7, Y3, Y3
	VMOVUPS Y0, (DI)(R12*1)
	VMOVUPS Y1, 32(DI)(R12*1)
	VMOVUPS Y2, 64(DI)(R12*1)
	VMOVUPS Y3, 96(DI)(R12*1)
	ADDQ $128, R12
	JMP block32

block8:
	CMPQ R12, DX
	JGE nextpixel
	LEAQ (SI)(R12*1), AX
	VMOVAPS Y15, Y0
	VXORPS Y4, Y4, Y4
	MOVQ R8, R13

row8:
	MOVQ AX, BX
	MOVQ R9, R14

col8:
	VMOVUPS (BX), Y8
	VCMPPS $3, Y8, Y8, Y12
	VORPS Y12, Y4, Y4
	VMAXPS Y0, Y8, Y0
	ADDQ R15, BX
	DECQ R14
	JNZ col8
	ADDQ R11, AX
	DECQ R13
	JNZ row8
	VORPS Y4, Y0, Y0
	VMOVUPS Y0, (DI)(R12*1)
	ADDQ $32, R12
	JMP block8

nextpixel:
	ADDQ DX, DI
	ADDQ R10, SI
	DECQ CX
	JNZ pixel

done:
	VZEROUPPER
	RET
