"""Losses of micro_sam's joint objective: prompt masks (Dice + IoU MSE) and AIS maps (Dice-based)."""

from __future__ import annotations

import torch

_EPS = 1e-6


def dice_loss(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - Dice over the last two (spatial) axes; any leading axes are kept."""
    intersection = (probs * target).sum(dim=(-2, -1))
    denominator = (probs * probs).sum(dim=(-2, -1)) + (target * target).sum(dim=(-2, -1))
    return 1.0 - 2.0 * intersection / denominator.clamp(min=_EPS)


def mask_losses(
    logits: torch.Tensor, iou_pred: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """micro_sam's prompt loss for one sub-iteration.

    logits (N, M, H, W) with M multimask outputs, iou_pred (N, M), targets (N, H, W) in {0, 1}.
    Returns (Dice loss: min over the M outputs, averaged over objects; MSE between predicted and
    true IoU; index of the best output per object, for the next prompt).
    """
    target = targets[:, None].to(logits.dtype)
    dice = dice_loss(torch.sigmoid(logits), target)  # (N, M)
    best_dice, best = dice.min(dim=1)
    with torch.no_grad():
        binary = (logits > 0).to(logits.dtype)
        intersection = (binary * target).sum(dim=(-2, -1))
        union = ((binary + target) > 0).to(logits.dtype).sum(dim=(-2, -1))
        true_iou = intersection / union.clamp(min=1.0)
    iou_loss = torch.mean((iou_pred - true_iou) ** 2)
    return best_dice.mean(), iou_loss, best


def distance_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """torch_em's ``DiceBasedDistanceLoss(mask_distances_in_bg=True)`` on (B, 3, H, W) maps.

    Dice on foreground plus Dice on each distance channel restricted to the true foreground
    (background distances are don't-care: they are masked out of both input and target).
    """
    foreground = target[:, 0]
    loss = _batch_dice(prediction[:, 0], foreground)
    for channel in (1, 2):
        loss = loss + _batch_dice(prediction[:, channel] * foreground, target[:, channel] * foreground)
    return loss


def _batch_dice(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - Dice computed over the whole batch (torch_em's ``dice_score`` on one channel)."""
    intersection = (probs * target).sum()
    denominator = (probs * probs).sum() + (target * target).sum()
    return 1.0 - 2.0 * intersection / denominator.clamp(min=_EPS)
