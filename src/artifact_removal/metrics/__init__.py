"""Image quality: full reference (PSNR, SSIM, PSNR-B), LPIPS, no reference (NIQE, BRISQUE), and
the QF predictor's confusion matrices. Each image metric takes uint8 images and states its
convention (RGB or Y, border crop) in its arguments."""
