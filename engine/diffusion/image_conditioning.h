// The image side of img2img and inpainting, as A1111 prepares it (modules/processing.py,
// StableDiffusionProcessingImg2Img.init and inpainting_image_conditioning):
//   - the init image and the mask are scaled to the output size ("Just resize"; antialiased bilinear
//     here where A1111 uses PIL's Lanczos, so edges differ by a grey level or two);
//   - the mask is blurred first, at the init image's size, with OpenCV's Gaussian of sigma = "Mask
//     blur" and kernel 2 * int(2.5 * sigma + 0.5) + 1 in x, then in y (reflect-101 borders);
//   - the latent mask is the blurred mask scaled to the latent size and rounded to 0 / 1; the
//     sampler keeps the init latent where it is 0 (see LatentBlend);
//   - after decoding, the init image is laid back over the result through clamp(2 * mask): pixels
//     far from the mask come back exactly as they were;
//   - 9-channel inpainting models see cat(mask, latent of image * (1 - mask)) beside the latent,
//     with the mask rounded; without a mask (img2img, txt2img) the mask is all ones.
// Tensors here are float32 on the CPU; images are [B, 3, H, W], masks [B, 1, H, W] in [0, 1].
#pragma once

#include "kiln/result.h"

#include <cstdint>
#include <string>

#include <torch/types.h>

namespace kiln::diffusion {

// uint8 [H, W, 3] RGB -> [1, 3, height, width] float in 0..255 (exact where no scaling is needed).
torch::Tensor resizeImage(const torch::Tensor& rgb, int width, int height);
// 0..255 -> [-1, 1], what the VAE encodes.
torch::Tensor imageToModel(const torch::Tensor& image255);

// uint8 [H, W] (255 = repaint) -> [1, 1, H, W] in [0, 1], blurred as A1111 does (blur 0: unchanged),
// still at the mask's own size and in steps of 1/255 as A1111's 8-bit mask image is.
torch::Tensor blurMask(const torch::Tensor& mask, int blur);
// A blurred mask at the output size.
torch::Tensor maskToModel(const torch::Tensor& blurredMask, int width, int height);
// The sampler's mask at the latent size: 1 where the sampler repaints, 0 where it keeps the init latent.
torch::Tensor latentMask(const torch::Tensor& modelMask, int64_t latentHeight, int64_t latentWidth);

// A1111's apply_overlay: generated * a + init * (1 - a), a = clamp(2 * mask, 0, 1), on 0..255 images, so
// a pixel with a = 0 comes back as the init image's byte.
torch::Tensor overlayInit(const torch::Tensor& generated, const torch::Tensor& init, const torch::Tensor& modelMask);

// Keeps the init latent outside the mask: A1111's CFGDenoiser blend of every x0 prediction and of
// the final latent (inpainting fill "original").
struct LatentBlend {
    torch::Tensor initLatent;  // [B, 4, h, w], scaled by the VAE's factor
    torch::Tensor mask;        // [B, 1, h, w], 1 = repaint

    torch::Tensor apply(const torch::Tensor& x) const { return initLatent * (1.0 - mask) + x * mask; }
};

// An image read for img2img / inpainting: uint8 [H, W, 3] RGB, or [H, W] for a mask.
struct ImageBytes {
    torch::Tensor pixels;
    int width = 0;
    int height = 0;
};

// PNG, JPEG, WebP, BMP, TIFF through OpenCV. A mask is read as grey levels (255 = repaint); a mask with
// an alpha channel uses the alpha (an A1111 / Photoshop layer with transparent "keep" areas).
// Errors name the file and what was expected; images over 100 megapixels are refused.
Result<ImageBytes> readRgbImage(const std::string& path);
Result<ImageBytes> readMaskImage(const std::string& path);

// Wraps caller-owned bytes (copied): rgb is width * height * 3, mask width * height.
Result<ImageBytes> rgbFromBytes(const std::uint8_t* data, std::size_t size, int width, int height);
Result<ImageBytes> maskFromBytes(const std::uint8_t* data, std::size_t size, int width, int height);

}  // namespace kiln::diffusion
