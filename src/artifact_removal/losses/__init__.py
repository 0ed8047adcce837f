"""Training losses: weighted pixel losses (MSE, L1, SSIM), the VGG-19 perceptual loss and the
GAN's adversarial cross-entropy. Inputs (N, 3, H, W) in [0, 1] unless a module says otherwise."""
