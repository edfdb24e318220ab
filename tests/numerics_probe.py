"""A short training run whose last digits depend on the CPU code path (run by test_numerics.py).

An LSTM (torch.nn.LSTM: oneDNN on the CPU) and a linear read-out (MKL's matrix product), fed
through a softmax and a sum (PyTorch's own vectorised kernels), trained for 100 Adam steps on
one thread. Prints the final loss to every digit, and the code path PyTorch's kernels took.
"""
import torch

torch.set_num_threads(1)
torch.manual_seed(0)
x = torch.randn(32, 24, 8)  # (B, T, D)
y = torch.randint(0, 5, (32,))  # (B,)
rnn = torch.nn.LSTM(8, 32, batch_first=True)
head = torch.nn.Linear(32, 5)
opt = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=1e-2)
for _ in range(100):
    opt.zero_grad()
    h, _ = rnn(x)  # (B, T, H)
    weights = torch.softmax(h.sum(-1), dim=1)  # (B, T): a softmax over time
    logits = head((weights[..., None] * h).sum(1))  # (B, 5)
    loss = torch.nn.functional.cross_entropy(logits, y)
    loss.backward()
    opt.step()
print(repr(loss.item()), torch.backends.cpu.get_cpu_capability())
