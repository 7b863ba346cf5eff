"""Sample-GAN models (Keras 3) and the variant registry."""
