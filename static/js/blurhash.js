// BlurHash placeholders (https://blurha.sh): every img[data-blurhash] gets a small canvas
// under it, painted from the hash, until the image itself has loaded; every .blurred
// stand-in for content above the browsing level gets the hash's colours as background. Without this file the
// images still load; they just have no placeholder. The decoder mirrors
// models_hub/formats/blurhash.py (the tests check both against the same pictures).
(() => {
  "use strict";

  const ALPHABET =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";
  const SIZE = 32; // pixels on the canvas's longer side: the browser's scaling blurs the rest

  function decode83(text) {
    let value = 0;
    for (const char of text) {
      const digit = ALPHABET.indexOf(char);
      if (digit < 0) throw new Error("not base83");
      value = value * 83 + digit;
    }
    return value;
  }

  function srgbToLinear(value) {
    const v = value / 255;
    return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  }

  function linearToSrgb(value) {
    const v = Math.max(0, Math.min(1, value));
    const curve = v <= 0.0031308 ? v * 12.92 : 1.055 * Math.pow(v, 1 / 2.4) - 0.055;
    return Math.floor(curve * 255 + 0.5);
  }

  function signSquare(value) {
    return Math.sign(value) * value * value;
  }

  // RGBA pixels (width x height) of a hash; throws on a malformed one.
  function decode(hash, width, height) {
    if (typeof hash !== "string" || hash.length < 6) throw new Error("too short");
    const sizeFlag = decode83(hash[0]);
    const nx = (sizeFlag % 9) + 1;
    const ny = Math.floor(sizeFlag / 9) + 1;
    if (hash.length !== 4 + 2 * nx * ny) throw new Error("wrong length");
    const maximum = (decode83(hash[1]) + 1) / 166;
    const dc = decode83(hash.slice(2, 6));
    const colours = [[srgbToLinear(dc >> 16), srgbToLinear((dc >> 8) & 255), srgbToLinear(dc & 255)]];
    for (let index = 1; index < nx * ny; index++) {
      const value = decode83(hash.slice(4 + index * 2, 6 + index * 2));
      colours.push([
        signSquare((Math.floor(value / 361) - 9) / 9) * maximum,
        signSquare(((Math.floor(value / 19) % 19) - 9) / 9) * maximum,
        signSquare(((value % 19) - 9) / 9) * maximum,
      ]);
    }
    const cosX = [];
    for (let i = 0; i < nx; i++) {
      for (let x = 0; x < width; x++) cosX.push(Math.cos((Math.PI * i * x) / width));
    }
    const pixels = new Uint8ClampedArray(width * height * 4);
    for (let y = 0; y < height; y++) {
      const cosY = [];
      for (let j = 0; j < ny; j++) cosY.push(Math.cos((Math.PI * j * y) / height));
      for (let x = 0; x < width; x++) {
        let r = 0, g = 0, b = 0;
        for (let j = 0; j < ny; j++) {
          for (let i = 0; i < nx; i++) {
            const basis = cosX[i * width + x] * cosY[j];
            const colour = colours[i + j * nx];
            r += colour[0] * basis;
            g += colour[1] * basis;
            b += colour[2] * basis;
          }
        }
        const at = 4 * (x + y * width);
        pixels[at] = linearToSrgb(r);
        pixels[at + 1] = linearToSrgb(g);
        pixels[at + 2] = linearToSrgb(b);
        pixels[at + 3] = 255;
      }
    }
    return pixels;
  }

  function loaded(img) {
    return img.complete && img.naturalWidth > 0;
  }

  // A small canvas painted from `hash`, in the proportions of a w x h box (so `object-fit`
  // and `background-size: cover` crop it as they crop the picture); null for a bad hash,
  // which costs the placeholder and nothing else.
  function paint(hash, w, h) {
    const width = w >= h ? SIZE : Math.max(1, Math.round((SIZE * w) / h));
    const height = h >= w ? SIZE : Math.max(1, Math.round((SIZE * h) / w));
    let pixels;
    try {
      pixels = decode(hash, width, height);
    } catch (error) {
      return null;
    }
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    canvas.getContext("2d").putImageData(new ImageData(pixels, width, height), 0, 0);
    return canvas;
  }

  function addPlaceholder(img) {
    if (img.dataset.blurhashDrawn || loaded(img)) return;
    img.dataset.blurhashDrawn = "1";
    const w = Number(img.getAttribute("width")) || 1;
    const h = Number(img.getAttribute("height")) || 1;
    const canvas = paint(img.dataset.blurhash, w, h);
    if (!canvas) return;
    canvas.className = "blurhash";
    canvas.setAttribute("aria-hidden", "true");
    img.before(canvas);
    // Removed once the image shows (a transparent image must not show it through).
    img.addEventListener("load", () => canvas.remove(), { once: true });
  }

  // Content above the viewer's browsing level is never sent: its placeholder element
  // (span.blurred) shows the colours of the hash as its background, and nothing else.
  function paintBlurred(element) {
    if (element.dataset.blurhashDrawn) return;
    element.dataset.blurhashDrawn = "1";
    const canvas = paint(element.dataset.blurhash, element.clientWidth || 1, element.clientHeight || 1);
    if (canvas) element.style.backgroundImage = `url(${canvas.toDataURL()})`;
  }

  function addPlaceholders(root) {
    root.querySelectorAll("img[data-blurhash]").forEach(addPlaceholder);
    root.querySelectorAll(".blurred[data-blurhash]").forEach(paintBlurred);
  }

  window.hubBlurhash = { decode, addPlaceholders };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => addPlaceholders(document));
  } else {
    addPlaceholders(document);
  }
})();
