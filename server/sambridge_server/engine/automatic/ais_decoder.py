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

from ..errors import InvalidInput
from ..precision import native_bf16

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


Window = tuple[int, int, int, int]  # (y0, x0, y1, x1) half-open, in decoder-output (1024-px) pixels


def resize_to_original(
    maps: torch.Tensor, input_size: tuple[int, int], original_size: tuple[int, int]
) -> torch.Tensor:
    """Undo SAM's preprocessing: (B, C, 1024, 1024) -> crop to ``input_size`` -> ``original_size``."""
    if tuple(maps.shape[-2:]) != (ENCODER_IMAGE_SIZE, ENCODER_IMAGE_SIZE):
        maps = F.interpolate(maps, (ENCODER_IMAGE_SIZE,) * 2, mode="bilinear", align_corners=False)
    maps = maps[..., : input_size[0], : input_size[1]]
    return F.interpolate(maps, tuple(original_size), mode="bilinear", align_corners=False)


def decoder_window(
    region: Window | None, input_size: tuple[int, int], original_size: tuple[int, int], margin: int = 2
) -> Window:
    """The decoder-output pixels that ``resize_to_original`` reads for ``region`` of its result.

    ``region`` is (y0, x0, y1, x1) in original-size pixels (None: all of them). Bilinear resizing
    without align_corners reads, for output pixel ``i``, input pixels ``floor(s (i + 0.5) - 0.5)``
    and the next one (``s`` = input / output size, clamped at 0); ``margin`` pixels more on each
    side absorb rounding. Never reaches beyond ``input_size`` (the rest is padding that is cropped).
    """
    y0, x0, y1, x1 = region if region is not None else (0, 0, original_size[0], original_size[1])
    window = []
    for lo, hi, n_in, n_out in ((y0, y1, input_size[0], original_size[0]), (x0, x1, input_size[1], original_size[1])):
        scale = n_in / n_out
        first = int(np.floor(max(scale * (lo + 0.5) - 0.5, 0.0))) - margin
        last = int(np.floor(max(scale * (hi - 0.5) - 0.5, 0.0))) + 1 + margin
        window.append((max(first, 0), min(last + 1, n_in)))
    (wy0, wy1), (wx0, wx1) = window
    return wy0, wx0, wy1, wx1


def _pointwise(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """A 1x1 conv as one matrix product per image (CPU conv2d takes a slow path for 1x1 kernels)."""
    batch, channels, height, width = x.shape
    weight = conv.weight.reshape(conv.out_channels, channels)
    flat = x.reshape(batch, channels, height * width)
    if conv.bias is None:
        return torch.matmul(weight, flat).reshape(batch, -1, height, width)
    out = torch.baddbmm(conv.bias[None, :, None], weight.expand(batch, -1, -1), flat)
    return out.reshape(batch, -1, height, width)


def _upsample(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module(x)`` for an upsampler; the interpolating one projects at the lower resolution when
    that is cheaper: bilinear weights sum to one, so the 1x1 conv (bias included) commutes with it."""
    if not isinstance(module, _InterpolatingUpsampler):
        return module(x)
    conv = module.conv
    if conv.out_channels <= conv.in_channels:
        return F.interpolate(_pointwise(conv, x), scale_factor=2, mode="bilinear", align_corners=False)
    return _pointwise(conv, F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))


def _up_block(block: _UpBlock, x: torch.Tensor) -> torch.Tensor:
    """``block(x)`` with the cheaper upsampling order."""
    upsampler, conv, norm, _ = block.block
    return norm(conv(_upsample(upsampler, x))).relu_()


def _windowed_norm_conv(norm: nn.InstanceNorm2d, conv: nn.Conv2d, x: torch.Tensor, window: Window) -> torch.Tensor:
    """``conv(norm(x))`` restricted to ``window``: statistics over all of ``x``, the 3x3 conv only
    where the window needs it (zero padding where the window meets the border of ``x``)."""
    mean = x.mean(dim=(2, 3), keepdim=True)  # two passes: as exact as var_mean and twice as fast on CPU
    var = (x - mean).square_().mean(dim=(2, 3), keepdim=True)
    y0, x0, y1, x1 = window
    height, width = x.shape[-2:]
    a0, b0, a1, b1 = max(y0 - 1, 0), max(x0 - 1, 0), min(y1 + 1, height), min(x1 + 1, width)
    part = (x[..., a0:a1, b0:b1] - mean) * torch.rsqrt(var + norm.eps)
    part = F.pad(part, (b0 - (x0 - 1), x1 + 1 - b1, a0 - (y0 - 1), y1 + 1 - a1))
    return F.conv2d(part, conv.weight, conv.bias)


def predict_window(decoder: AISDecoder, embeddings: torch.Tensor, window: Window | None = None) -> torch.Tensor:
    """``decoder(embeddings)`` for inference, exact inside ``window`` (zeros elsewhere).

    Same weights and results as ``AISDecoder.forward`` (to float rounding), reordered for speed:
    1x1 convs run before the bilinear upsampling they commute with, and the last 3x3 conv and the
    output head run only on ``window`` (the decoder-output pixels a caller keeps, e.g. a tile's
    inner block). Every normalisation still sees the full 1024-px maps, so nothing before the
    last normalisation can be cropped without changing the result.
    """
    z9 = _up_block(decoder.deconv1, embeddings)
    z6 = _up_block(decoder.deconv2, z9)
    z3 = _up_block(decoder.deconv3, z6)
    z0 = _up_block(decoder.deconv4, z3)
    x = decoder.base(embeddings)
    for block, sampler, skip in zip(decoder.decoder.blocks, decoder.decoder.samplers, (z9, z6, z3)):
        x = _upsample(sampler, x)
        x = block(torch.cat([x, _center_crop_channels(skip, x.shape[1])], dim=1))
    del z9, z6, z3
    x = torch.cat([_upsample(decoder.deconv_out, x), z0], dim=1)
    del z0
    norm1, conv1, _, norm2, conv2, _ = decoder.decoder_head.block
    x = conv1(norm1(x)).relu_()
    height, width = x.shape[-2:]
    window = window or (0, 0, height, width)
    head = _windowed_norm_conv(norm2, conv2, x, window).relu_()
    out = x.new_zeros((x.shape[0], OUT_CHANNELS, height, width))
    out[..., window[0] : window[2], window[1] : window[3]] = torch.sigmoid(_pointwise(decoder.out_conv, head))
    return out


def uses_bf16(precision: str, device: torch.device) -> bool:
    """Whether to decode in bfloat16: asked for, and the device computes it natively.

    On a CPU without bf16 instructions (no AVX512-BF16/AMX) bf16 convolutions are emulated and
    slower than float32, so the decoder stays in float32 there (``precision.native_bf16``).
    """
    return precision == "bf16" and native_bf16(device)


@torch.inference_mode()
def predict_ais_maps(
    decoder: AISDecoder,
    features: np.ndarray,
    input_size: tuple[int, int],
    original_size: tuple[int, int],
    region: Window | None = None,
    precision: str = "fp32",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the decoder on one image's embeddings (1, 256, 64, 64).

    Returns (foreground, center_distances, boundary_distances), float32 arrays of ``original_size``.
    With ``region`` (y0, x0, y1, x1) in original-size pixels only that part is computed exactly
    (the rest is unspecified); a tile's caller keeps only its inner block. ``precision="bf16"``
    runs the convolutions in bfloat16 where the device has it (see ``uses_bf16``): about 2x
    faster on a CPU with AVX512-BF16, maps within ~0.03 of float32; "fp32" is micro_sam's path.
    """
    features = np.asarray(features, dtype=np.float32)
    if features.shape != (1, EMBED_DIM, 64, 64):
        raise InvalidInput(f"features must have shape (1, {EMBED_DIM}, 64, 64), got {features.shape}")
    device = next(decoder.parameters()).device
    window = decoder_window(region, tuple(input_size), tuple(original_size))
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=uses_bf16(precision, device)):
        output = predict_window(decoder, torch.from_numpy(features).to(device), window)
    output = output.float()
    output = resize_to_original(output, tuple(input_size), tuple(original_size))
    maps = output[0].float().cpu().numpy()
    return maps[0], maps[1], maps[2]
