// An RGB raster with the few drawing primitives charts need, encoded to PNG with pngjs.
// Coordinates are integer pixels, (0, 0) top-left; drawing outside the canvas is clipped.
import pngjs from 'pngjs';

import { GLYPH_ADVANCE, GLYPH_HEIGHT, GLYPH_WIDTH, glyph, textWidth } from './font.js';

const { PNG } = pngjs;

export type Rgb = readonly [number, number, number];

export const WHITE: Rgb = [255, 255, 255];
export const BLACK: Rgb = [0, 0, 0];

export class Canvas {
  readonly width: number;
  readonly height: number;
  private readonly png: InstanceType<typeof PNG>;

  constructor(width: number, height: number, background: Rgb = WHITE) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 ||
        width > 8192 || height > 8192) {
      throw new RangeError(`canvas size must be integers in [1, 8192], got ${width}x${height}`);
    }
    this.width = width;
    this.height = height;
    this.png = new PNG({ width, height });
    this.fillRect(0, 0, width, height, background);
  }

  setPixel(x: number, y: number, color: Rgb): void {
    const px = Math.round(x);
    const py = Math.round(y);
    if (px < 0 || py < 0 || px >= this.width || py >= this.height) return;
    const i = (py * this.width + px) * 4;
    this.png.data[i] = color[0];
    this.png.data[i + 1] = color[1];
    this.png.data[i + 2] = color[2];
    this.png.data[i + 3] = 255;
  }

  fillRect(x: number, y: number, w: number, h: number, color: Rgb): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let py = y0; py < y1; py++) {
      for (let px = x0; px < x1; px++) this.setPixel(px, py, color);
    }
  }

  strokeRect(x: number, y: number, w: number, h: number, color: Rgb): void {
    this.line(x, y, x + w - 1, y, color);
    this.line(x, y + h - 1, x + w - 1, y + h - 1, color);
    this.line(x, y, x, y + h - 1, color);
    this.line(x + w - 1, y, x + w - 1, y + h - 1, color);
  }

  /**
   * A straight line from (x0, y0) to (x1, y1), `thickness` pixels wide (a square brush).
   * `dash` = [on, off] lengths in pixels draws it dashed.
   */
  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, thickness = 1,
    dash?: readonly [number, number]): void {
    const dx = x1 - x0;
    const dy = y1 - y0;
    const steps = Math.max(Math.abs(dx), Math.abs(dy), 1);
    const length = Math.hypot(dx, dy);
    const half = (thickness - 1) / 2;
    for (let s = 0; s <= steps; s++) {
      const t = s / steps;
      if (dash) {
        const along = t * length;
        if (along % (dash[0] + dash[1]) >= dash[0]) continue;
      }
      const cx = x0 + dx * t;
      const cy = y0 + dy * t;
      if (thickness <= 1) {
        this.setPixel(cx, cy, color);
      } else {
        this.fillRect(Math.round(cx - half), Math.round(cy - half), thickness, thickness, color);
      }
    }
  }

  /**
   * Text in the built-in bitmap font, each font pixel drawn as a scale×scale block. (x, y) is the
   * top-left corner of the text box; `vertical` draws it rotated a quarter turn counter-clockwise
   * (reading bottom to top, as a y-axis label), with (x, y) then the box's bottom-left corner.
   */
  text(x: number, y: number, text: string, color: Rgb, scale = 1, vertical = false): void {
    let column = 0;
    for (const char of text) {
      const g = glyph(char);
      for (let row = 0; row < GLYPH_HEIGHT; row++) {
        for (let col = 0; col < GLYPH_WIDTH; col++) {
          if (!g[row]![col]) continue;
          const along = (column + col) * scale;
          const across = row * scale;
          if (vertical) {
            this.fillRect(x + across, y - along - scale, scale, scale, color);
          } else {
            this.fillRect(x + along, y + across, scale, scale, color);
          }
        }
      }
      column += GLYPH_ADVANCE;
    }
  }

  /** Text horizontally centred on cx. */
  textCentered(cx: number, y: number, text: string, color: Rgb, scale = 1): void {
    this.text(Math.round(cx - textWidth(text, scale) / 2), y, text, color, scale);
  }

  toPng(): Buffer {
    return PNG.sync.write(this.png);
  }
}
