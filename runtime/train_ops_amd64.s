//go:build amd64 && !purego

#include "textflag.h"

// The AVX2 loops of the BatchNorm training kernels and ReLUBackward
// (train_ops.go). Each does, eight channels at a time, exactly the
// operations of its Go loop in the same order (no FMA), so both paths give
// the same bits. src pointers are at the first pixel and channel; pixels are
// c floats apart; nb, the number of channels, is a positive multiple of 8;
// npix is at least 1.

// func bnSumsAVX2(s1, s2, k *float64, src *float32, c, nb, npix int)
//
// s1[j] += Σ (x−k[j]), s2[j] += Σ (x−k[j])² over npix pixels.
TEXT ·bnSumsAVX2(SB), NOSPLIT, $0-56
	MOVQ s1+0(FP), DI
	MOVQ s2+8(FP), R8
	MOVQ k+16(FP), R9
	MOVQ src+24(FP), SI
	MOVQ c+32(FP), DX
	SHLQ $2, DX
	MOVQ nb+40(FP), CX
	MOVQ npix+48(FP), R10

sumsGroup:
	VMOVUPD (R9), Y0
	VMOVUPD 32(R9), Y1
	VXORPD  Y2, Y2, Y2
	VXORPD  Y3, Y3, Y3
	VXORPD  Y4, Y4, Y4
	VXORPD  Y5, Y5, Y5
	MOVQ    SI, AX
	MOVQ    R10, BX

sumsPixel:
	VCVTPS2PD (AX), Y6
	VCVTPS2PD 16(AX), Y7
	VSUBPD    Y0, Y6, Y6
	VSUBPD    Y1, Y7, Y7
	VADDPD    Y6, Y2, Y2
	VADDPD    Y7, Y3, Y3
	VMULPD    Y6, Y6, Y6
	VMULPD    Y7, Y7, Y7
	VADDPD    Y6, Y4, Y4
	VADDPD    Y7, Y5, Y5
	ADDQ      DX, AX
	DECQ      BX
	JNZ       sumsPixel

	VADDPD  (DI), Y2, Y2
	VADDPD  32(DI), Y3, Y3
	VMOVUPD Y2, (DI)
	VMOVUPD Y3, 32(DI)
	VADDPD  (R8), Y4, Y4
	VADDPD  32(R8), Y5, Y5
	VMOVUPD Y4, (R8)
	VMOVUPD Y5, 32(R8)
	ADDQ    $64, DI
	ADDQ    $64, R8
	ADDQ    $64, R9
	ADDQ    $32, SI
	SUBQ    $8, CX
	JNZ     sumsGroup
	VZEROUPPER
	RET

// func bnGradSumsAVX2(sg, sxg, mean *float64, dy, src, dst *float32, c, nb, npix, all int)
//
// With g = dy where dst > 0 (or everywhere, when all is 0xffffffff):
// sg[j] += Σ g, sxg[j] += Σ (x−mean[j])·g.
TEXT ·bnGradSumsAVX2(SB), NOSPLIT, $0-80
	MOVQ         sg+0(FP), DI
	MOVQ         sxg+8(FP), R8
	MOVQ         mean+16(FP), R9
	MOVQ         dy+24(FP), SI
	MOVQ         src+32(FP), R11
	MOVQ         dst+40(FP), R12
	MOVQ         c+48(FP), DX
	SHLQ         $2, DX
	MOVQ         nb+56(FP), CX
	MOVQ         npix+64(FP), R10
	MOVQ         all+72(FP), AX
	VMOVQ         AX, X15
	VPBROADCASTD X15, Y15
	VXORPS       Y14, Y14, Y14

gsumsGroup:
	VMOVUPD (R9), Y0
	VMOVUPD 32(R9), Y1
	VXORPD  Y2, Y2, Y2
	VXORPD  Y3, Y3, Y3
	VXORPD  Y4, Y4, Y4
	VXORPD  Y5, Y5, Y5
	MOVQ    SI, AX
	MOVQ    R11, BX
	MOVQ    R12, R13
	MOVQ    R10, R14

gsumsPixel:
	VCMPPS       $0x11, (R13), Y14, Y6 // 0 < y, false for NaN
	VORPS        Y15, Y6, Y6
	VANDPS       (AX), Y6, Y6
	VCVTPS2PD    X6, Y7
	VEXTRACTF128 $1, Y6, X6
	VCVTPS2PD    X6, Y8
	VCVTPS2PD    (BX), Y9
	VCVTPS2PD    16(BX), Y10
	VSUBPD       Y0, Y9, Y9
	VSUBPD       Y1, Y10, Y10
	VADDPD       Y7, Y2, Y2
	VADDPD       Y8, Y3, Y3
	VMULPD       Y7, Y9, Y9
	VMULPD       Y8, Y10, Y10
	VADDPD       Y9, Y4, Y4
	VADDPD       Y10, Y5, Y5
	ADDQ         DX, AX
	ADDQ         DX, BX
	ADDQ         DX, R13
	DECQ         R14
	JNZ          gsumsPixel

	VADDPD  (DI), Y2, Y2
	VADDPD  32(DI), Y3, Y3
	VMOVUPD Y2, (DI)
	VMOVUPD Y3, 32(DI)
	VADDPD  (R8), Y4, Y4
	VADDPD  32(R8), Y5, Y5
	VMOVUPD Y4, (R8)
	VMOVUPD Y5, 32(R8)
	ADDQ    $64, DI
	ADDQ    $64, R8
	ADDQ    $64, R9
	ADDQ    $32, SI
	ADDQ    $32, R11
	ADDQ    $32, R12
	SUBQ    $8, CX
	JNZ     gsumsGroup
	VZEROUPPER
	RET

// func bnApplyAVX2(dst, src, mean, scale, shift *float32, c, nb, npix, floor int)
//
// dst = max((x−mean)·scale + shift, floor) with floor 0 (ReLU) or −Inf
// (none); VMAXPS returns its second source for a NaN, so NaN stays. The
// loop runs pixel by pixel, all of a pixel's channels at once, so memory is
// read and written in order; the per-channel operands come from L1.
TEXT ·bnApplyAVX2(SB), NOSPLIT, $0-72
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         mean+16(FP), R8
	MOVQ         scale+24(FP), R9
	MOVQ         shift+32(FP), R11
	MOVQ         c+40(FP), DX
	SHLQ         $2, DX
	MOVQ         nb+48(FP), CX
	SHLQ         $2, CX
	MOVQ         npix+56(FP), R10
	MOVQ         floor+64(FP), AX
	VMOVQ        AX, X15
	VPBROADCASTD X15, Y15

applyPixel:
	XORQ BX, BX // byte offset of the channel group

applyGroup:
	VMOVUPS (SI)(BX*1), Y3
	VSUBPS  (R8)(BX*1), Y3, Y3
	VMULPS  (R9)(BX*1), Y3, Y3
	VADDPS  (R11)(BX*1), Y3, Y3
	VMAXPS  Y3, Y15, Y3
	VMOVUPS Y3, (DI)(BX*1)
	ADDQ    $32, BX
	CMPQ    BX, CX
	JLT     applyGroup

	ADDQ DX, SI
	ADDQ DX, DI
	DECQ R10
	JNZ  applyPixel
	VZEROUPPER
	RET

// func bnGradApplyAVX2(dx, dy, src, dst, mean, a, b, cc *float32, c, nb, npix, all, acc int)
//
// dx = a·g + b·(x−mean) + cc, added to dx when acc is not 0, with g as in
// bnGradSumsAVX2; pixel by pixel like bnApplyAVX2.
TEXT ·bnGradApplyAVX2(SB), NOSPLIT, $0-104
	MOVQ         dx+0(FP), DI
	MOVQ         dy+8(FP), SI
	MOVQ         src+16(FP), R11
	MOVQ         dst+24(FP), R12
	MOVQ         mean+32(FP), R8
	MOVQ         a+40(FP), R9
	MOVQ         b+48(FP), R10
	MOVQ         cc+56(FP), AX
	MOVQ         c+64(FP), DX
	SHLQ         $2, DX
	MOVQ         nb+72(FP), CX
	SHLQ         $2, CX
	MOVQ         npix+80(FP), R14
	MOVQ         all+88(FP), BX
	VMOVQ        BX, X15
	VPBROADCASTD X15, Y15
	VXORPS       Y14, Y14, Y14
	MOVQ         acc+96(FP), R13

gapplyPixel:
	XORQ BX, BX // byte offset of the channel group

gapplyGroup:
	VCMPPS  $0x11, (R12)(BX*1), Y14, Y4 // 0 < y, false for NaN
	VORPS   Y15, Y4, Y4
	VANDPS  (SI)(BX*1), Y4, Y4
	VMULPS  (R9)(BX*1), Y4, Y4
	VMOVUPS (R11)(BX*1), Y5
	VSUBPS  (R8)(BX*1), Y5, Y5
	VMULPS  (R10)(BX*1), Y5, Y5
	VADDPS  Y5, Y4, Y4
	VADDPS  (AX)(BX*1), Y4, Y4
	TESTQ   R13, R13
	JZ      gapplyStore
	VADDPS  (DI)(BX*1), Y4, Y4

gapplyStore:
	VMOVUPS Y4, (DI)(BX*1)
	ADDQ    $32, BX
	CMPQ    BX, CX
	JLT     gapplyGroup

	ADDQ DX, DI
	ADDQ DX, SI
	ADDQ DX, R11
	ADDQ DX, R12
	DECQ R14
	JNZ  gapplyPixel
	VZEROUPPER
	RET

// func reluBackwardAVX2(dx, dy, y *float32, n, acc int)
//
// dx = dy where y > 0, else 0 (added to dx when acc is not 0); n is a
// positive multiple of 8.
TEXT ·reluBackwardAVX2(SB), NOSPLIT, $0-40
	MOVQ   dx+0(FP), DI
	MOVQ   dy+8(FP), SI
	MOVQ   y+16(FP), BX
	MOVQ   n+24(FP), CX
	MOVQ   acc+32(FP), DX
	VXORPS Y14, Y14, Y14
	XORQ   AX, AX

reluLoop:
	VCMPPS $0x11, (BX)(AX*4), Y14, Y0 // 0 < y, false for NaN
	VANDPS (SI)(AX*4), Y0, Y0
	TESTQ  DX, DX
	JZ     reluStore
	VADDPS (DI)(AX*4), Y0, Y0

reluStore:
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	CMPQ    AX, CX
	JLT     reluLoop
	VZEROUPPER
	RET

DATA trainLanes<>+0(SB)/4, $0
DATA trainLanes<>+4(SB)/4, $1
DATA trainLanes<>+8(SB)/4, $2
DATA trainLanes<>+12(SB)/4, $3
DATA trainLanes<>+16(SB)/4, $4
DATA trainLanes<>+20(SB)/4, $5
DATA trainLanes<>+24(SB)/4, $6
DATA trainLanes<>+28(SB)/4, $7
GLOBL trainLanes<>(SB), RODATA|NOPTR, $32

// func maxPoolArgAVX2(idx *int32, src *float32, c, nb, kh, kw, row int)
//
// For each of nb channels of the kh×kw window at src (pixels c floats
// apart, rows row floats apart), idx[j] = the offset from src, in floats, of
// the value MaxPool2D takes: it replaces the running maximum when greater
// (so of equal values the first stays) or NaN. nb is a positive multiple of
// 8, kh and kw are at least 1.
TEXT ·maxPoolArgAVX2(SB), NOSPLIT, $0-56
	MOVQ    idx+0(FP), DI
	MOVQ    src+8(FP), SI
	MOVQ    c+16(FP), DX
	MOVQ    nb+24(FP), CX
	MOVQ    kh+32(FP), R8
	MOVQ    kw+40(FP), R9
	MOVQ    row+48(FP), R10
	VMOVDQU trainLanes<>(SB), Y15
	XORQ    R11, R11 // the group's first channel

argGroup:
	VMOVUPS      (SI)(R11*4), Y0 // the running maximum
	VMOVQ         R11, X1
	VPBROADCASTD X1, Y1
	VPADDD       Y15, Y1, Y1     // and its offsets
	MOVQ         R11, R12        // offset of the row's first pixel
	MOVQ         R8, R13

argRow:
	MOVQ R12, BX
	MOVQ R9, R14

argCol:
	VMOVUPS      (SI)(BX*4), Y2
	VCMPPS       $0x1e, Y0, Y2, Y3 // v > max
	VCMPPS       $3, Y2, Y2, Y4    // v is NaN
	VORPS        Y4, Y3, Y3
	VBLENDVPS    Y3, Y2, Y0, Y0
	VMOVQ         BX, X5
	VPBROADCASTD X5, Y5
	VPADDD       Y15, Y5, Y5
	VBLENDVPS    Y3, Y5, Y1, Y1
	ADDQ         DX, BX
	DECQ         R14
	JNZ          argCol
	ADDQ         R10, R12
	DECQ         R13
	JNZ          argRow

	VMOVDQU Y1, (DI)(R11*4)
	ADDQ    $8, R11
	CMPQ    R11, CX
	JLT     argGroup
	VZEROUPPER
	RET
