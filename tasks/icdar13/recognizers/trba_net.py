"""The TPS-ResNet-BiLSTM-Attn (TRBA) network of clovaai's deep-text-recognition-benchmark (DTRB, commit e2117f2).

Written with DTRB's module names, so that the released `TPS-ResNet-BiLSTM-Attn.pth` loads strictly (the
loader, input pipeline and decoding are in trba.py). Input B x 1 x 32 x 100 in [-1, 1]; output the
attention logits of the greedy decoder.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

IMG_H, IMG_W, NUM_FIDUCIAL, BATCH_MAX_LENGTH = 32, 100, 20, 25


# --- Transformation: TPS spatial transformer network (RARE) ----------------------------------------
class LocalizationNetwork(nn.Module):
    """Predicts the F fiducial points C' (x, y in [-1, 1]) of the input image."""

    def __init__(self, num_fiducial: int, in_channels: int):
        super().__init__()
        self.F = num_fiducial
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(True), nn.MaxPool2d(2, 2),
            nn.Conv2d(64, 128, 3, 1, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(True), nn.MaxPool2d(2, 2),
            nn.Conv2d(128, 256, 3, 1, 1, bias=False), nn.BatchNorm2d(256), nn.ReLU(True), nn.MaxPool2d(2, 2),
            nn.Conv2d(256, 512, 3, 1, 1, bias=False), nn.BatchNorm2d(512), nn.ReLU(True), nn.AdaptiveAvgPool2d(1))
        self.localization_fc1 = nn.Sequential(nn.Linear(512, 256), nn.ReLU(True))
        self.localization_fc2 = nn.Linear(256, num_fiducial * 2)
        # DTRB's initialisation: identity transform (fiducials on the top and bottom edges).
        self.localization_fc2.weight.data.fill_(0)
        half = num_fiducial // 2
        x = np.linspace(-1.0, 1.0, half)
        top = np.stack([x, np.linspace(0.0, -1.0, half)], axis=1)
        bottom = np.stack([x, np.linspace(1.0, 0.0, half)], axis=1)
        self.localization_fc2.bias.data = torch.from_numpy(np.concatenate([top, bottom])).float().view(-1)

    def forward(self, x):
        features = self.conv(x).view(x.size(0), -1)
        return self.localization_fc2(self.localization_fc1(features)).view(x.size(0), self.F, 2)


class GridGenerator(nn.Module):
    """Thin-plate-spline sampling grid P' = P_hat . inv_delta_C . [C'; 0] (buffers from F and size)."""

    def __init__(self, num_fiducial: int, out_size: tuple[int, int]):
        super().__init__()
        self.eps = 1e-6
        self.out_h, self.out_w = out_size
        self.F = num_fiducial
        C = self._build_C(num_fiducial)
        P = self._build_P(self.out_w, self.out_h)
        self.register_buffer("inv_delta_C", torch.tensor(self._build_inv_delta_C(num_fiducial, C)).float())
        self.register_buffer("P_hat", torch.tensor(self._build_P_hat(num_fiducial, C, P)).float())

    @staticmethod
    def _build_C(F_):
        x = np.linspace(-1.0, 1.0, F_ // 2)
        top = np.stack([x, -np.ones(F_ // 2)], axis=1)
        bottom = np.stack([x, np.ones(F_ // 2)], axis=1)
        return np.concatenate([top, bottom], axis=0)

    @staticmethod
    def _build_inv_delta_C(F_, C):
        hat_C = np.zeros((F_, F_), dtype=float)
        for i in range(F_):
            for j in range(i, F_):
                r = np.linalg.norm(C[i] - C[j])
                hat_C[i, j] = hat_C[j, i] = r
        np.fill_diagonal(hat_C, 1)
        hat_C = (hat_C ** 2) * np.log(hat_C)
        delta_C = np.concatenate([
            np.concatenate([np.ones((F_, 1)), C, hat_C], axis=1),
            np.concatenate([np.zeros((2, 3)), np.transpose(C)], axis=1),
            np.concatenate([np.zeros((1, 3)), np.ones((1, F_))], axis=1)], axis=0)
        return np.linalg.inv(delta_C)

    @staticmethod
    def _build_P(width, height):
        grid_x = (np.arange(-width, width, 2) + 1.0) / width
        grid_y = (np.arange(-height, height, 2) + 1.0) / height
        return np.stack(np.meshgrid(grid_x, grid_y), axis=2).reshape([-1, 2])

    def _build_P_hat(self, F_, C, P):
        n = P.shape[0]
        diff = np.tile(np.expand_dims(P, axis=1), (1, F_, 1)) - np.expand_dims(C, axis=0)
        norm = np.linalg.norm(diff, ord=2, axis=2, keepdims=False)
        rbf = np.multiply(np.square(norm), np.log(norm + self.eps))
        return np.concatenate([np.ones((n, 1)), P, rbf], axis=1)

    def build_P_prime(self, batch_C_prime):
        b = batch_C_prime.size(0)
        with_zeros = torch.cat((batch_C_prime, batch_C_prime.new_zeros(b, 3, 2)), dim=1)
        batch_T = torch.bmm(self.inv_delta_C.repeat(b, 1, 1), with_zeros)
        return torch.bmm(self.P_hat.repeat(b, 1, 1), batch_T)


class TPS_SpatialTransformerNetwork(nn.Module):
    """Rectifies the input with a TPS transform predicted by the localization network."""

    def __init__(self, num_fiducial: int, out_size: tuple[int, int], in_channels: int):
        super().__init__()
        self.out_size = out_size
        self.LocalizationNetwork = LocalizationNetwork(num_fiducial, in_channels)
        self.GridGenerator = GridGenerator(num_fiducial, out_size)

    def forward(self, x):
        P_prime = self.GridGenerator.build_P_prime(self.LocalizationNetwork(x))
        grid = P_prime.reshape([P_prime.size(0), self.out_size[0], self.out_size[1], 2])
        return F.grid_sample(x, grid, padding_mode="border", align_corners=True)


# --- FeatureExtraction: ResNet (FAN variant, layers [1, 2, 5, 3]) -----------------------------------
class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        # DTRB's BasicBlock keeps `stride` but builds both convs with stride 1 (TRBA only uses 1).
        self.conv1 = nn.Conv2d(inplanes, planes, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + residual)


class ResNet(nn.Module):
    """DTRB's ResNet: 32 x 100 x C_in -> 1 x 26 x 512."""

    def __init__(self, in_channels, out_channels, layers=(1, 2, 5, 3)):
        super().__init__()
        blocks = [out_channels // 4, out_channels // 2, out_channels, out_channels]
        self.inplanes = out_channels // 8
        self.conv0_1 = nn.Conv2d(in_channels, out_channels // 16, 3, 1, 1, bias=False)
        self.bn0_1 = nn.BatchNorm2d(out_channels // 16)
        self.conv0_2 = nn.Conv2d(out_channels // 16, self.inplanes, 3, 1, 1, bias=False)
        self.bn0_2 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool1 = nn.MaxPool2d(2, 2, 0)
        self.layer1 = self._make_layer(blocks[0], layers[0])
        self.conv1 = nn.Conv2d(blocks[0], blocks[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(blocks[0])
        self.maxpool2 = nn.MaxPool2d(2, 2, 0)
        self.layer2 = self._make_layer(blocks[1], layers[1])
        self.conv2 = nn.Conv2d(blocks[1], blocks[1], 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(blocks[1])
        self.maxpool3 = nn.MaxPool2d(2, (2, 1), (0, 1))
        self.layer3 = self._make_layer(blocks[2], layers[2])
        self.conv3 = nn.Conv2d(blocks[2], blocks[2], 3, 1, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(blocks[2])
        self.layer4 = self._make_layer(blocks[3], layers[3])
        self.conv4_1 = nn.Conv2d(blocks[3], blocks[3], 2, (2, 1), (0, 1), bias=False)
        self.bn4_1 = nn.BatchNorm2d(blocks[3])
        self.conv4_2 = nn.Conv2d(blocks[3], blocks[3], 2, 1, 0, bias=False)
        self.bn4_2 = nn.BatchNorm2d(blocks[3])

    def _make_layer(self, planes, count):
        downsample = None
        if self.inplanes != planes:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, 1, bias=False), nn.BatchNorm2d(planes))
        layers = [BasicBlock(self.inplanes, planes, 1, downsample)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes) for _ in range(1, count)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn0_1(self.conv0_1(x)))
        x = self.relu(self.bn0_2(self.conv0_2(x)))
        x = self.maxpool1(x)
        x = self.relu(self.bn1(self.conv1(self.layer1(x))))
        x = self.maxpool2(x)
        x = self.relu(self.bn2(self.conv2(self.layer2(x))))
        x = self.maxpool3(x)
        x = self.relu(self.bn3(self.conv3(self.layer3(x))))
        x = self.relu(self.bn4_1(self.conv4_1(self.layer4(x))))
        return self.relu(self.bn4_2(self.conv4_2(x)))


class ResNet_FeatureExtractor(nn.Module):
    def __init__(self, in_channels, out_channels=512):
        super().__init__()
        self.ConvNet = ResNet(in_channels, out_channels)

    def forward(self, x):
        return self.ConvNet(x)


# --- SequenceModeling: two BiLSTMs -------------------------------------------------------------------
class BidirectionalLSTM(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.rnn = nn.LSTM(input_size, hidden_size, bidirectional=True, batch_first=True)
        self.linear = nn.Linear(hidden_size * 2, output_size)

    def forward(self, x):
        self.rnn.flatten_parameters()
        recurrent, _ = self.rnn(x)
        return self.linear(recurrent)


# --- Prediction: attention decoder (Bahdanau) --------------------------------------------------------
class AttentionCell(nn.Module):
    def __init__(self, input_size, hidden_size, num_embeddings):
        super().__init__()
        self.i2h = nn.Linear(input_size, hidden_size, bias=False)
        self.h2h = nn.Linear(hidden_size, hidden_size)
        self.score = nn.Linear(hidden_size, 1, bias=False)
        self.rnn = nn.LSTMCell(input_size + num_embeddings, hidden_size)
        self.hidden_size = hidden_size

    def forward(self, prev_hidden, batch_H, char_onehots):
        e = self.score(torch.tanh(self.i2h(batch_H) + self.h2h(prev_hidden[0]).unsqueeze(1)))
        alpha = F.softmax(e, dim=1)
        context = torch.bmm(alpha.permute(0, 2, 1), batch_H).squeeze(1)
        return self.rnn(torch.cat([context, char_onehots], 1), prev_hidden), alpha


class Attention(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes):
        super().__init__()
        self.attention_cell = AttentionCell(input_size, hidden_size, num_classes)
        self.hidden_size, self.num_classes = hidden_size, num_classes
        self.generator = nn.Linear(hidden_size, num_classes)

    def forward(self, batch_H, batch_max_length=BATCH_MAX_LENGTH):
        """Return the logits (B, batch_max_length + 1, classes) of greedy decoding from [GO]."""
        b = batch_H.size(0)
        steps = batch_max_length + 1
        hidden = (batch_H.new_zeros(b, self.hidden_size), batch_H.new_zeros(b, self.hidden_size))
        targets = torch.zeros(b, dtype=torch.long, device=batch_H.device)  # [GO]
        probs = batch_H.new_zeros(b, steps, self.num_classes)
        for i in range(steps):
            onehots = F.one_hot(targets, self.num_classes).to(batch_H.dtype)
            hidden, _ = self.attention_cell(hidden, batch_H, onehots)
            step = self.generator(hidden[0])
            probs[:, i, :] = step
            targets = step.argmax(1)
        return probs


class TRBA(nn.Module):
    """TPS -> ResNet -> BiLSTM x2 -> attention; module names as DTRB's `Model`."""

    def __init__(self, num_class: int = 38, in_channels: int = 1, out_channels: int = 512, hidden_size: int = 256,
                 num_fiducial: int = NUM_FIDUCIAL, img_size: tuple[int, int] = (IMG_H, IMG_W)):
        super().__init__()
        self.Transformation = TPS_SpatialTransformerNetwork(num_fiducial, img_size, in_channels)
        self.FeatureExtraction = ResNet_FeatureExtractor(in_channels, out_channels)
        self.AdaptiveAvgPool = nn.AdaptiveAvgPool2d((None, 1))
        self.SequenceModeling = nn.Sequential(BidirectionalLSTM(out_channels, hidden_size, hidden_size),
                                              BidirectionalLSTM(hidden_size, hidden_size, hidden_size))
        self.Prediction = Attention(hidden_size, hidden_size, num_class)

    def forward(self, x, batch_max_length=BATCH_MAX_LENGTH):
        x = self.Transformation(x)
        visual = self.FeatureExtraction(x)
        visual = self.AdaptiveAvgPool(visual.permute(0, 3, 1, 2)).squeeze(3)  # B x 26 x 512
        return self.Prediction(self.SequenceModeling(visual), batch_max_length)
