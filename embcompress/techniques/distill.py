"""``DISTILL{n}[_{hidden}]``: a learned student projection d -> n that keeps neighbourhoods.

PCA keeps the directions of largest variance; a retrieval system needs each row's nearest
neighbours to stay nearest. The student starts from the uncentred PCA projection (so it is
never worse than PCA at the start) and is trained in numpy with Adam on two losses:

- a listwise loss: for each anchor, the softmax over its true top neighbours and a shared set
  of random rows under the teacher (original inner products) and under the student, matched
  with KL divergence, which puts the weight on the ranking of the top neighbours;
- the squared error between teacher and student similarities, which keeps scores calibrated.

With ``_{hidden}`` the student is ``W x + V tanh(U x + c)`` (a residual 2-layer map whose
extra branch starts at zero). Training is seeded and deterministic, and stops early when the
recall@10 of held-back rows stops improving. Queries are scored in the student space; decode
uses a least-squares linear map back to the input space.
"""
from __future__ import annotations

import numpy as np

from .. import _exact as exact
from ..protocol import recall_at_k
from .._scoring import blocked_topk

MINE_ROWS = 20000
NEIGHBOURS = 10
RANDOM_ROWS = 256
BATCH = 256
MAX_EPOCHS = 12
PATIENCE = 2
LEARNING_RATE = 2e-3
TEMPERATURE = 0.05
MSE_WEIGHT = 1.0
VALIDATION_ROWS = 500


class _Adam:
    def __init__(self, params, lr):
        self.lr, self.t = lr, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, params, grads):
        self.t += 1
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * g * g
            p -= self.lr * (m / (1 - 0.9 ** self.t)) / (np.sqrt(v / (1 - 0.999 ** self.t)) + 1e-8)


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class Distill:
    score_in_output = True

    def __init__(self, piece, d_in, metric, seed):
        self.d_in, self.d_out = d_in, piece.args[0]
        self.hidden = piece.args[1]
        self.metric = metric

    # ----- the student ------------------------------------------------------------------------
    def _params(self):
        return [self.w] + ([self.u, self.c, self.v] if self.hidden else [])

    def _forward(self, x):
        y = x @ self.w.T
        if not self.hidden:
            return y, None
        h = np.tanh(x @ self.u.T + self.c)
        return y + h @ self.v.T, h

    def forward(self, x):
        """The student map, row-independent (float64 products) for encoding and scoring."""
        y = exact.matmul(x, self.w.T)
        if self.hidden:
            y += exact.matmul(np.tanh(exact.matmul(x, self.u.T, self.c).astype(np.float64)), self.v.T)
        return y

    def _backward(self, x, h, dy):
        grads = [dy.T @ x]
        if self.hidden:
            dz = (dy @ self.v) * (1 - h * h)
            grads += [dz.T @ x, dz.sum(axis=0), dy.T @ h]
        return grads

    def inverse(self, y):
        return exact.matmul(y, self.decoder.T)

    # ----- training ---------------------------------------------------------------------------
    def fit(self, x, seed):
        rng = np.random.default_rng(seed)
        x = x.astype(np.float32)
        order = rng.permutation(len(x))
        n_val = min(VALIDATION_ROWS, len(x) // 5)
        val, train = x[order[:n_val]], x[order[n_val:]]
        mine = train[:MINE_ROWS]
        k = min(NEIGHBOURS, len(mine) - 1)
        # the uncentred principal directions: the best rank-n start for inner products
        _, _, vt = np.linalg.svd(mine, full_matrices=False)
        self.w = vt[: self.d_out].astype(np.float32).copy()
        if self.hidden:
            self.u = (rng.standard_normal((self.hidden, self.d_in)) / np.sqrt(self.d_in)).astype(np.float32)
            self.c = np.zeros(self.hidden, np.float32)
            self.v = np.zeros((self.d_out, self.hidden), np.float32)
        _, nbrs = blocked_topk(mine, len(mine), k, lambda a, b: mine[a:b], "ip", exclude=np.arange(len(mine)))
        _, val_truth = blocked_topk(val, len(mine), k, lambda a, b: mine[a:b], "ip")
        best, stale = self._val_recall(val, mine, val_truth, k), 0
        best_params = [p.copy() for p in self._params()]
        adam = _Adam(self._params(), LEARNING_RATE)
        for _ in range(MAX_EPOCHS):
            perm = rng.permutation(len(mine))
            for start in range(0, len(mine), BATCH):
                anchors = perm[start: start + BATCH]
                randoms = rng.integers(0, len(mine), RANDOM_ROWS)
                adam.step(self._params(), self._gradients(mine, anchors, nbrs[anchors], randoms))
            score = self._val_recall(val, mine, val_truth, k)
            if score > best:
                best, best_params, stale = score, [p.copy() for p in self._params()], 0
            else:
                stale += 1
                if stale >= PATIENCE:
                    break
        for p, b in zip(self._params(), best_params):
            p[...] = b
        y = self.forward(train)
        self.decoder = np.linalg.lstsq(y, train, rcond=None)[0].T.astype(np.float32)
        self.val_recall = best

    def _val_recall(self, val, mine, truth, k):
        ys = self._forward(mine)[0]
        _, ids = blocked_topk(self._forward(val)[0], len(ys), k, lambda a, b: ys[a:b], "ip")
        return recall_at_k(ids, truth, k)

    def _gradients(self, x, anchors, nbr_ids, randoms):
        a, nb, r = x[anchors], x[nbr_ids], x[randoms]
        b, m = nbr_ids.shape
        flat = np.concatenate([a, nb.reshape(-1, self.d_in), r])
        f, h = self._forward(flat)
        fa, fnb, fr = f[:b], f[b: b + b * m].reshape(b, m, -1), f[b + b * m:]
        teacher = np.concatenate([np.einsum("bd,bmd->bm", a, nb), a @ r.T], axis=1)
        student = np.concatenate([np.einsum("bn,bmn->bm", fa, fnb), fa @ fr.T], axis=1)
        g = (_softmax(student / TEMPERATURE) - _softmax(teacher / TEMPERATURE)) / (TEMPERATURE * b)
        g += 2 * MSE_WEIGHT * (student - teacher) / student.size
        g_nb, g_r = g[:, :m], g[:, m:]
        dfa = np.einsum("bm,bmn->bn", g_nb, fnb) + g_r @ fr
        dfnb = g_nb[:, :, None] * fa[:, None, :]
        dfr = g_r.T @ fa
        df = np.concatenate([dfa, dfnb.reshape(b * m, -1), dfr])
        return self._backward(flat, h, df)

    # ----- artifact ---------------------------------------------------------------------------
    def export(self):
        arrays = {"w": self.w, "decoder": self.decoder}
        if self.hidden:
            arrays.update(u=self.u, c=self.c, v=self.v)
        return arrays

    def load(self, arrays):
        shapes = {"w": (self.d_out, self.d_in), "decoder": (self.d_in, self.d_out)}
        if self.hidden:
            shapes.update(u=(self.hidden, self.d_in), c=(self.hidden,), v=(self.d_out, self.hidden))
        for name, shape in shapes.items():
            if arrays[name].shape != shape or arrays[name].dtype != np.float32:
                raise ValueError(f"DISTILL array {name} has shape {arrays[name].shape}, expected {shape}")
            setattr(self, name, arrays[name])
