package imageio

import (
	"image"
	"image/color"
)

// restoreGIFTransparent puts back the color of the first frame's
// transparent palette entry, which image/gif replaces by transparent black.
// PIL keeps it (convert("RGB") shows the color the file stores there), so
// without this the pixels using that index differ. data is the whole file;
// anything that does not parse is left alone, the decode already succeeded.
func restoreGIFTransparent(img image.Image, data []byte) {
	m, ok := img.(*image.Paletted)
	if !ok {
		return
	}
	table, ti, ok := gifFirstFrameTable(data)
	if !ok || ti >= len(m.Palette) || 3*ti+2 >= len(table) || m.Palette[ti] != (color.RGBA{}) {
		return
	}
	m.Palette[ti] = color.NRGBA{table[3*ti], table[3*ti+1], table[3*ti+2], 0}
}

// gifFirstFrameTable returns the color table (RGB triples) the first frame
// of a GIF uses and the transparent index of its graphic control extension.
func gifFirstFrameTable(b []byte) (table []byte, ti int, ok bool) {
	// Header, logical screen descriptor, global color table.
	if len(b) < 13 {
		return nil, 0, false
	}
	p := 13
	if flags := b[10]; flags&0x80 != 0 {
		n := 3 << (flags&7 + 1)
		if p+n > len(b) {
			return nil, 0, false
		}
		table, p = b[p:p+n], p+n
	}
	ti = -1
	for p < len(b) {
		switch b[p] {
		case 0x21: // extension: label, then sub-blocks
			if p+2 > len(b) {
				return nil, 0, false
			}
			label := b[p+1]
			p += 2
			if label == 0xf9 && p+5 <= len(b) && b[p] == 4 {
				ti = -1
				if b[p+1]&1 != 0 {
					ti = int(b[p+4])
				}
			}
			for {
				if p >= len(b) {
					return nil, 0, false
				}
				n := int(b[p])
				p += 1 + n
				if n == 0 {
					break
				}
			}
		case 0x2c: // image descriptor: the first frame
			if p+10 > len(b) || ti < 0 {
				return nil, 0, false
			}
			if flags := b[p+9]; flags&0x80 != 0 {
				n := 3 << (flags&7 + 1)
				if p+10+n > len(b) {
					return nil, 0, false
				}
				table = b[p+10 : p+10+n]
			}
			return table, ti, table != nil
		default:
			return nil, 0, false
		}
	}
	return nil, 0, false
}
