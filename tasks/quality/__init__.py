"""The image-quality task (Table I): degrade HR images, restore, score Y-PSNR / Y-SSIM."""
