"""AIS decoder: the convolutional UNETR decoder that micro_sam trains on top of SAM embeddings.

The module tree mirrors the non-``encoder`` part of torch_em's ``UNETR`` (as micro_sam's
``get_unetr`` builds it: no skip connections, 3 output channels, sigmoid) so that a micro_sam
``decoder_state`` loads unchanged. Input: image embeddings (1, 256, 64, 64); output: foreground
probability, normalised center distance and boundary distance at the original image size.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .errors import InvalidInput

ENCODER_IMAGE_SIZE = 1024  # SAM's encoder input side; decoder output is at this resolution
EMBED_DIM = 256  # SAM neck output channels = decoder input channels
OUT_CHANNELS = 3  # foreground, center distance, boundary distance
_FEATURES = (512, 256, 128, 64)  # torch_em: initial_features 64, gain 2, depth 3, reversed


class _DecoderBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d that can normalise with the statistics of its input.

    micro_sam 1.8.14 never puts the decoder in eval mode, so its BatchNorm layers normalise every
    call with the current batch statistics (and mutate the running stats as a side effect). We
    reproduce the outputs without the mutation; ``use_input_statistics=False`` gives the classic
    eval-mode behaviour with the stored running statistics.
    """

    use_input_statistics: bool = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` with input or running statistics (see class docstring)."""
        if self.use_input_statistics:
            return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)
        return F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps
        )


class _ConvBlock(nn.Module):
    """torch_em ConvBlock2d: (InstanceNorm, conv3x3, ReLU) x 2; instance norms hold no state."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.InstanceNorm2d(in_channels),
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.InstanceNorm2d(out_channels),
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        return self.block(x)


class _InterpolatingUpsampler(nn.Module):
    """torch_em Upsampler2d: bilinear x2 upsampling followed by a 1x1 conv (key ``conv``)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Upsample by 2 and project channels."""
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return self.conv(x)


class _TransposedUpsampler(nn.Module):
    """torch_em SingleDeconv2DBlock: a 2x2 stride-2 transposed conv (key ``block``)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.block = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Upsample by 2."""
        return self.block(x)


def _upsampler(in_channels: int, out_channels: int, transposed: bool) -> nn.Module:
    """Pick the upsampler variant that the checkpoint was trained with."""
    if transposed:
        return _TransposedUpsampler(in_channels, out_channels)
    return _InterpolatingUpsampler(in_channels, out_channels)


class _SingleConv(nn.Module):
    """torch_em SingleConv2DBlock: one 3x3 conv (key ``block``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block = nn.Conv2d(channels, channels, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the conv."""
        return self.block(x)


class _UpBlock(nn.Module):
    """torch_em Deconv2DBlock: upsample x2, conv3x3, BatchNorm, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, transposed: bool) -> None:
        super().__init__()
        self.block = nn.Sequential(
            _upsampler(in_channels, out_channels, transposed),
            _SingleConv(out_channels),
            _DecoderBatchNorm(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        return self.block(x)


class _Decoder(nn.Module):
    """torch_em Decoder: per level upsample, concatenate the skip input, conv block."""

    def __init__(self, transposed: bool) -> None:
        super().__init__()
        pairs = list(zip(_FEATURES[:-1], _FEATURES[1:]))
        self.blocks = nn.ModuleList([_ConvBlock(cin, cout) for cin, cout in pairs])
        self.samplers = nn.ModuleList([_upsampler(cin, cout, transposed) for cin, cout in pairs])

    def forward(self, x: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        """Decode ``x`` with one skip tensor per level."""
        for block, sampler, skip in zip(self.blocks, self.samplers, skips):
            x = sampler(x)
            x = block(torch.cat([x, _center_crop_channels(skip, x.shape[1])], dim=1))
        return x


def _center_crop_channels(skip: torch.Tensor, channels: int) -> torch.Tensor:
    """Keep the middle ``channels`` channels of ``skip``.

    torch_em's Decoder center-crops the skip tensor to the upsampled tensor's shape in every
    dimension after the batch one, channels included; without skip connections from the encoder
    the skips have twice the channels, so only their middle half is used. Trained weights rely on it.
    """
    start = (skip.shape[1] - channels) // 2
    return skip[:, start : start + channels]


class AISDecoder(nn.Module):
    """The UNETR decoder head of a micro_sam model, applied to precomputed SAM embeddings."""

    def __init__(self, transposed: bool = False) -> None:
        super().__init__()
        f0, f1, f2, f3 = _FEATURES
        self.transposed = transposed
        self.base = _ConvBlock(EMBED_DIM, f0)
        self.decoder = _Decoder(transposed)
        self.deconv1 = _UpBlock(EMBED_DIM, f0, transposed)
        self.deconv2 = _UpBlock(f0, f1, transposed)
        self.deconv3 = _UpBlock(f1, f2, transposed)
        self.deconv4 = _UpBlock(f2, f3, transposed)
        self.deconv_out = _upsampler(f3, f3, transposed)
        self.decoder_head = _ConvBlock(2 * f3, f3)
        self.out_conv = nn.Conv2d(f3, OUT_CHANNELS, 1)

    def set_input_statistics(self, enabled: bool) -> None:
        """Choose BatchNorm statistics: input (micro_sam 1.8.14 behaviour) or running (eval)."""
        for module in self.modules():
            if isinstance(module, _DecoderBatchNorm):
                module.use_input_statistics = enabled

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Map (B, 256, 64, 64) embeddings to (B, 3, 1024, 1024) sigmoid outputs."""
        z9 = self.deconv1(embeddings)
        z6 = self.deconv2(z9)
        z3 = self.deconv3(z6)
        z0 = self.deconv4(z3)
        x = self.decoder(self.base(embeddings), [z9, z6, z3])
        x = self.decoder_head(torch.cat([self.deconv_out(x), z0], dim=1))
        return torch.sigmoid(self.out_conv(x))


def uses_transposed_convs(decoder_state: Mapping[str, torch.Tensor]) -> bool:
    """Whether a decoder state was trained with transposed-conv upsampling (micro_sam's rule)."""
    return any(".block." in key for key in decoder_state if key.startswith("decoder.samplers"))


def build_ais_decoder(decoder_state: Mapping[str, torch.Tensor]) -> AISDecoder:
    """Build the AIS decoder and load a micro_sam ``decoder_state`` unchanged (strict).

    Raises InvalidInput when keys or shapes do not match the UNETR decoder layout.
    """
    decoder = AISDecoder(transposed=uses_transposed_convs(decoder_state))
    expected = decoder.state_dict()
    missing = sorted(set(expected) - set(decoder_state))
    unexpected = sorted(set(decoder_state) - set(expected))
    if missing or unexpected:
        raise InvalidInput(f"decoder_state mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for key, value in expected.items():
        if tuple(decoder_state[key].shape) != tuple(value.shape):
            raise InvalidInput(f"decoder_state {key}: shape {tuple(decoder_state[key].shape)} != {tuple(value.shape)}")
    decoder.load_state_dict(dict(decoder_state), strict=True)
    return decoder.eval()


def resize_to_original(
    maps: torch.Tensor, input_size: tuple[int, int], original_size: tuple[int, int]
) -> torch.Tensor:
    """Undo SAM's preprocessing: (B, C, 1024, 1024) -> crop to ``input_size`` -> ``original_size``."""
    if tuple(maps.shape[-2:]) != (ENCODER_IMAGE_SIZE, ENCODER_IMAGE_SIZE):
        maps = F.interpolate(maps, (ENCODER_IMAGE_SIZE,) * 2, mode="bilinear", align_corners=False)
    maps = maps[..., : input_size[0], : input_size[1]]
    return F.interpolate(maps, tuple(original_size), mode="bilinear", align_corners=False)


@torch.inference_mode()
def predict_ais_maps(
    decoder: AISDecoder,
    features: np.ndarray,
    input_size: tuple[int, int],
    original_size: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the decoder on one image's embeddings (1, 256, 64, 64).

    Returns (foreground, center_distances, boundary_distances), float32 arrays of ``original_size``.
    """
    features = np.asarray(features, dtype=np.float32)
    if features.shape != (1, EMBED_DIM, 64, 64):
        raise InvalidInput(f"features must have shape (1, {EMBED_DIM}, 64, 64), got {features.shape}")
    device = next(decoder.parameters()).device
    output = decoder(torch.from_numpy(features).to(device))
    output = resize_to_original(output, tuple(input_size), tuple(original_size))
    maps = output[0].float().cpu().numpy()
    return maps[0], maps[1], maps[2]
