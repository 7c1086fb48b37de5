package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/resgen/resgen/dataset"
	"github.com/resgen/resgen/generated/fashion"
)

// Contact sheet layout, in pixels. basicfont's 7×13 face fits the longest
// "true: Ankle boot" (16 characters, 112 pixels) into a cell.
const (
	zoom    = 3   // each image pixel becomes zoom×zoom
	cellW   = 124 // width of one image's cell
	lineH   = 13  // basicfont.Face7x13's height
	frame   = 3   // width of the red frame around a wrong one
	cellH   = 28*zoom + 2*frame + 4 + 2*lineH + 10
	columns = 10
	margin  = 16
	headerH = 2*lineH + 14
)

var (
	paper = color.RGBA{0xff, 0xff, 0xff, 0xff}
	ink   = color.RGBA{0x22, 0x22, 0x22, 0xff}
	faint = color.RGBA{0x77, 0x77, 0x77, 0xff}
	red   = color.RGBA{0xd0, 0x1c, 0x1c, 0xff}
)

// contactSheet draws the first n images, enlarged, in rows of ten, each
// with its predicted label below; a wrong prediction is framed and written
// in red with the true label under it. It returns the PNG file.
func contactSheet(images *dataset.Images, labels, pred []uint8, n int) ([]byte, error) {
	if n < 1 || n > images.N || n > len(labels) || n > len(pred) {
		return nil, fmt.Errorf("contact sheet of %d images: have %d images, %d labels, %d predictions", n, images.N, len(labels), len(pred))
	}
	cols := min(n, columns)
	rows := (n + cols - 1) / cols
	img := image.NewRGBA(image.Rect(0, 0, 2*margin+cols*cellW, margin+headerH+rows*cellH+margin/2))
	draw.Draw(img, img.Bounds(), image.NewUniform(paper), image.Point{}, draw.Src)

	wrong := 0
	for i := range n {
		wrong += b2i(pred[i] != labels[i])
	}
	text(img, margin, margin+lineH-2, ink,
		fmt.Sprintf("resgen: Fashion-MNIST test images 1-%d classified by a PyTorch-trained ResNet-20 compiled to Go", n))
	text(img, margin, margin+2*lineH+2, faint,
		fmt.Sprintf("%d of %d correct. Under each image its predicted label; wrong ones in red, with the true label.", n-wrong, n))

	classes := fashion.Labels
	for i := range n {
		x0 := margin + (i%cols)*cellW
		y0 := margin + headerH + (i/cols)*cellH
		// The image, centred in its cell, inside a frame.
		ix := x0 + (cellW-28*zoom)/2
		iy := y0 + frame
		ok := pred[i] == labels[i]
		border, bw := color.RGBA{0xdd, 0xdd, 0xdd, 0xff}, 1
		if !ok {
			border, bw = red, frame
		}
		draw.Draw(img, image.Rect(ix-bw, iy-bw, ix+28*zoom+bw, iy+28*zoom+bw), image.NewUniform(border), image.Point{}, draw.Src)
		pix := images.Image(i)
		for y := range 28 * zoom {
			for x := range 28 * zoom {
				v := pix[(y/zoom)*28+x/zoom]
				img.SetRGBA(ix+x, iy+y, color.RGBA{v, v, v, 0xff})
			}
		}
		ty := iy + 28*zoom + frame + 4 + lineH - 3
		if ok {
			centered(img, x0, ty, ink, classes[pred[i]])
		} else {
			centered(img, x0, ty, red, classes[pred[i]])
			centered(img, x0, ty+lineH, faint, "true: "+classes[labels[i]])
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// text draws s with its baseline at y, starting at x.
func text(dst draw.Image, x, y int, c color.Color, s string) {
	d := font.Drawer{Dst: dst, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// centered draws s centred in the cell starting at x0.
func centered(dst draw.Image, x0, y int, c color.Color, s string) {
	w := font.MeasureString(basicfont.Face7x13, s).Ceil()
	text(dst, x0+(cellW-w)/2, y, c, s)
}
