# ruff: noqa: E501 - the cases read best one per line
"""Bad input: each error has PyTorch's exception type and wording and says what was wrong;
a failing op leaves its inputs unchanged."""

from __future__ import annotations

import re

import numpy as np
import pytest

import deepforge as df

F = df.ones
T = df.tensor


def _backward_twice():
    y = F(3, requires_grad=True).exp().sum()
    y.backward()
    y.backward()


def _mixed_devices():
    from conftest import DEVICES

    other = next((d for d in DEVICES if d != "cpu"), None)
    if other is None:
        pytest.skip("needs a second device")
    return F(3) + F(3, device=other)


CASES = [
    # shapes that don't broadcast
    ("broadcast", lambda: F(3) + F(4), RuntimeError,
     r"add: The size of tensor a \(3\) must match the size of tensor b \(4\) at non-singleton dimension 0"),
    ("broadcast_2d", lambda: F(2, 3) * F(4, 3), RuntimeError, r"mul: The size of tensor a \(2\) must match"),
    ("broadcast_where", lambda: df.where(F(2, dtype=df.bool), F(3), F(2)), RuntimeError,
     r"where: The size of tensor a \(2\) must match the size of tensor b \(3\)"),
    ("broadcast_inplace", lambda: F(3).add_(F(2, 3)), RuntimeError,
     r"output with shape \[3\] doesn't match the broadcast shape \[2, 3\]"),
    ("expand", lambda: F(2, 3).expand(4, 3), RuntimeError,
     r"The expanded size of the tensor \(4\) must match the existing size \(2\) at non-singleton dimension 0"),
    # matrix products
    ("mm", lambda: df.mm(F(2, 3), F(4, 5)), RuntimeError, r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    ("matmul", lambda: F(64, 784) @ F(512, 10), RuntimeError,
     r"mat1 and mat2 shapes cannot be multiplied \(64x784 and 512x10\)"),
    ("matmul_vec", lambda: F(2, 3) @ F(4), RuntimeError, r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x1\)"),
    ("matmul_1d", lambda: F(3) @ F(4), RuntimeError, r"inconsistent tensor size, expected tensor \[3\] and src \[4\]"),
    ("matmul_batched", lambda: F(2, 2, 3) @ F(2, 4, 5), RuntimeError,
     r"Expected size for first two dimensions of batch2 tensor to be: \[2, 3\] but got: \[2, 4\]"),
    ("matmul_0d", lambda: df.matmul(F(()), F(3)), RuntimeError, "both arguments to matmul need to be at least 1D"),
    ("bmm", lambda: df.bmm(F(2, 2, 3), F(2, 4, 5)), RuntimeError, "Expected size for first two dimensions of batch2"),
    ("mv", lambda: df.mv(F(2, 3), F(4)), RuntimeError, r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)"),
    ("mm_dtype", lambda: df.mm(F(2, 2), F(2, 2, dtype=df.float64)), RuntimeError,
     "expected m1 and m2 to have the same dtype, but got: float != double"),
    ("einsum", lambda: df.einsum("ij,jk->ik", F(2, 3), F(4, 2)), RuntimeError,
     "einsum.*subscript j has size 4 for operand 1 which does not broadcast with previously seen size 3"),
    # views and shapes
    ("view_strides", lambda: F(2, 3).t().view(6), RuntimeError,
     r"view size is not compatible with input tensor's size and stride .* Use \.reshape\(\.\.\.\) instead"),
    ("view_numel", lambda: F(2, 3).view(4), RuntimeError, r"shape '\[4\]' is invalid for input of size 6"),
    ("reshape_two_inferred", lambda: F(4).reshape(-1, -1), RuntimeError, "only one dimension can be inferred"),
    ("permute", lambda: F(3, 4).permute(0), RuntimeError, "number of dimensions in the tensor input does not match"),
    ("narrow", lambda: F(3).narrow(0, 2, 3), RuntimeError, r"start \(2\) \+ length \(3\) exceeds dimension size \(3\)"),
    ("split", lambda: F(3).split([1, 1]), RuntimeError, "split_with_sizes expects split_sizes to sum exactly to 3"),
    ("flatten", lambda: F(2, 3, 4).flatten(2, 1), RuntimeError, "start_dim cannot come after end_dim"),
    ("repeat", lambda: F(2, 3).repeat(2), RuntimeError, "Number of dimensions of repeat dims can not be smaller"),
    # cat / stack
    ("cat_sizes", lambda: df.cat([F(2, 3), F(2, 4)]), RuntimeError,
     "Sizes of tensors must match except in dimension 0. Expected size 3 but got size 4 for tensor number 1"),
    ("cat_ndim", lambda: df.cat([F(2, 3), F(3, 1, 1)]), RuntimeError, "Tensors must have same number of dimensions: got 2 and 3"),
    ("cat_0d", lambda: df.cat([F(()), F(())]), RuntimeError, "zero-dimensional tensor .* cannot be concatenated"),
    ("stack", lambda: df.stack([F(2, 3), F(2, 4)]), RuntimeError,
     r"stack expects each tensor to be equal size, but got \[2, 3\] at entry 0 and \[2, 4\] at entry 1"),
    # index out of range
    ("index_int", lambda: F(3)[5], IndexError, "index 5 is out of bounds for dimension 0 with size 3"),
    ("index_int_2d", lambda: F(3, 4)[1, -7], IndexError, "index -7 is out of bounds for dimension 1 with size 4"),
    ("index_tensor", lambda: F(3)[T([0, 5])], IndexError, "index 5 is out of bounds for dimension 0 with size 3"),
    ("index_too_many", lambda: F(3)[0, 0], IndexError, "too many indices for tensor of dimension 1"),
    ("index_0d", lambda: T(1.0)[0], IndexError, "invalid index of a 0-dim tensor"),
    ("index_mask_shape", lambda: F(3, 4)[F(4, dtype=df.bool)], IndexError,
     r"The shape of the mask \[4\] at index 0 does not match the shape of the indexed tensor \[3, 4\]"),
    ("index_float_tensor", lambda: F(3)[T([1.0])], IndexError, "tensors used as indices must be long, int, byte or bool"),
    ("index_float", lambda: F(3)[1.5], IndexError, r"only integers, slices \(`:`\), ellipsis"),
    ("index_select", lambda: df.index_select(F(2, 3), 0, T([2])), IndexError,
     "index_select.*index 2 is out of bounds for dimension 0 with size 2"),
    ("index_select_scalar", lambda: df.index_select(df.tensor(5.0), 0, T([0, 0])), RuntimeError,
     r"index_select\(\): Index to scalar can have only 1 value, got 2 value\(s\)"),
    ("take", lambda: df.take(F(3), T([7])), IndexError, "take.*index 7 is out of bounds"),
    ("gather", lambda: df.gather(F(2, 3), 1, T([[5]])), RuntimeError, "gather.*index 5 is out of bounds for dimension 1 with size 3"),
    ("gather_negative", lambda: df.gather(F(2, 3), 1, T([[-1]])), RuntimeError, "index -1 is out of bounds"),
    ("scatter", lambda: F(2, 3).scatter(0, T([[5]]), 1.0), RuntimeError, "scatter.*index 5 is out of bounds"),
    ("index_add", lambda: F(2, 3).index_add(0, T([5]), F(1, 3)), RuntimeError, "index_add.*index 5 is out of bounds"),
    ("select", lambda: F(2, 3).select(1, 3), IndexError, r"select\(\): index 3 out of range"),
    ("gather_index_dtype", lambda: df.gather(F(3), 0, T([0.0])), RuntimeError, "Expected dtype int32/int64 for index"),
    # dim out of range
    ("dim_sum", lambda: F(3, 4).sum(2), IndexError, r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"),
    ("dim_softmax", lambda: F(3, 4).softmax(-3), IndexError, r"Dimension out of range .* but got -3\)"),
    ("dim_transpose", lambda: F(3, 4).transpose(0, 5), IndexError, "Dimension out of range"),
    ("dim_unsqueeze", lambda: F(3).unsqueeze(3), IndexError, r"\[-2, 1\], but got 3"),
    ("dim_cat", lambda: df.cat([F(2), F(2)], 1), IndexError, "Dimension out of range"),
    ("dim_size", lambda: F(2).size(1), IndexError, "Dimension out of range"),
    ("dim_dup", lambda: F(3, 4).sum((0, 0)), RuntimeError, "dim 0 appears multiple times in the list of dims"),
    ("dim_unbind_0d", lambda: T(1.0).unbind(0), IndexError, "Dimension specified as 0 but tensor has no dimensions"),
    # bad argument types
    ("type_add_str", lambda: F(3) + "a", TypeError, "add.*str"),
    ("type_ones", lambda: F("a"), TypeError, "size"),
    ("type_ones_float", lambda: F(2.5), TypeError, "size.*float"),
    ("type_reshape", lambda: F(4).reshape("a"), TypeError, r"reshape\(\): argument 'shape' must be tuple of ints"),
    ("type_view", lambda: F(4).view(2.0, 2), TypeError, r"view\(\): argument 'shape' must be tuple of ints"),
    ("type_sum_dim", lambda: F(3).sum("x"), TypeError, "argument 'dim' must be int, not str"),
    ("type_transpose", lambda: F(2, 2).transpose("a", 0), TypeError, "must be int, not str"),
    ("type_cat_tensor", lambda: df.cat(F(3)), TypeError, r"cat\(\): argument 'tensors' must be tuple of Tensors, not Tensor"),
    ("type_cat_elem", lambda: df.cat([F(3), 1]), TypeError, "expected Tensor as element 1 in argument 0, but got int"),
    ("type_full", lambda: df.full((2,), "x"), TypeError, "fill_value.*must be Number, not str"),
    ("type_dtype", lambda: F(3, dtype="float99"), TypeError, "dtype"),
    ("type_tensor_str", lambda: T("abc"), TypeError, "invalid data type 'str'"),
    ("type_len_0d", lambda: len(T(1.0)), TypeError, "len\\(\\) of a 0-d tensor"),
    ("type_index_op", lambda: F(3).__index__(), TypeError, "only integer tensors of a single element"),
    ("type_matmul_list", lambda: df.matmul(F(2), [1.0, 2.0]), TypeError, "matmul"),
    # dtype support (PyTorch raises NotImplementedError for a missing kernel dtype)
    ("abs_bool", lambda: df.abs(F(3, dtype=df.bool)), NotImplementedError, "\"abs\" not implemented for 'Bool'"),
    ("bitwise_float", lambda: F(3) & F(3), NotImplementedError, "\"bitwise_and\" not implemented for 'Float'"),
    ("gelu_int", lambda: df.gelu(F(3, dtype=df.int64)), NotImplementedError, "\"gelu\" not implemented for 'Long'"),
    ("softmax_int", lambda: F(3, dtype=df.int64).softmax(0), NotImplementedError, "not implemented for 'Long'"),
    ("rand_int", lambda: df.rand(3, dtype=df.int64), NotImplementedError, "not implemented for 'Long'"),
    ("mean_int", lambda: F(3, dtype=df.int64).mean(), RuntimeError, "mean\\(\\): could not infer output dtype.*Got: Long"),
    ("var_int", lambda: F(3, dtype=df.int64).var(), RuntimeError, "std and var only support floating point"),
    ("sub_bool", lambda: F(3, dtype=df.bool) - F(3, dtype=df.bool), RuntimeError, "Subtraction, the `-` operator, with two bool"),
    ("neg_bool", lambda: -F(3, dtype=df.bool), RuntimeError, "Negation, the `-` operator, on a bool tensor"),
    ("int_pow_neg", lambda: T([2]) ** -1, RuntimeError, "Integers to negative integer powers are not allowed"),
    ("inplace_cast", lambda: F(3, dtype=df.int64).add_(1.5), RuntimeError,
     "result type Float can't be cast to the desired output type Long"),
    ("inplace_div_int", lambda: F(3, dtype=df.int64).div_(2), RuntimeError, "result type Float can't be cast"),
    ("where_cond", lambda: df.where(F(3), F(3), F(3)), RuntimeError,
     "where expected condition to be a boolean tensor, but got a tensor with dtype Float"),
    ("masked_fill_mask", lambda: F(3).masked_fill(F(3), 0.0), RuntimeError,
     "masked_fill_ only supports boolean masks, but got mask with dtype float"),
    # autograd
    ("backward_nonscalar", lambda: (F(3, requires_grad=True) * 2).backward(), RuntimeError,
     "grad can be implicitly created only for scalar outputs"),
    ("backward_twice", _backward_twice, RuntimeError,
     "Trying to backward through the graph a second time .* Specify retain_graph=True"),
    ("backward_no_grad", lambda: F(2).sum().backward(), RuntimeError,
     "element 0 of tensors does not require grad and does not have a grad_fn"),
    ("requires_grad_int", lambda: F(3, dtype=df.int64).requires_grad_(), RuntimeError,
     "only Tensors of floating point and complex dtype can require gradients"),
    ("requires_grad_int_ctor", lambda: T([1, 2], requires_grad=True), RuntimeError,
     "only Tensors of floating point and complex dtype can require gradients"),
    ("inplace_leaf", lambda: F(3, requires_grad=True).add_(1), RuntimeError,
     "add_: a leaf Variable that requires grad is being used in an in-place operation"),
    ("inplace_leaf_setitem", lambda: F(3, requires_grad=True).__setitem__(0, 1.0), RuntimeError,
     "a leaf Variable that requires grad is being used in an in-place operation"),
    ("inplace_leaf_view", lambda: F(3, requires_grad=True)[:2].mul_(2), RuntimeError,
     "a view of a leaf Variable that requires grad is being used in an in-place operation"),
    ("non_leaf_requires_grad", lambda: setattr(F(2, requires_grad=True) * 2, "requires_grad", False),
     RuntimeError, "you can only change requires_grad flags of leaf variables"),
    ("numpy_requires_grad", lambda: F(3, requires_grad=True).numpy(), RuntimeError,
     r"Can't call numpy\(\) on Tensor that requires grad"),
    # values
    ("item", lambda: F(3).item(), RuntimeError, "a Tensor with 3 elements cannot be converted to Scalar"),
    ("bool", lambda: bool(F(3)), RuntimeError, "Boolean value of Tensor with more than one value is ambiguous"),
    ("topk", lambda: F(3).topk(5), RuntimeError, "selected index k out of range"),
    ("kthvalue", lambda: F(3).kthvalue(4), RuntimeError, "kthvalue\\(\\): selected number k out of range"),
    ("max_empty", lambda: F(0).max(), RuntimeError, r"max\(\): Expected reduction dim to be specified for input.numel\(\) == 0"),
    ("argmax_empty", lambda: F(0).argmax(), IndexError, "argmax"),
    ("randint", lambda: df.randint(5, 2, (3,)), RuntimeError, "random_ expects 'from' to be less than 'to'"),
    ("normal_std", lambda: df.normal(df.zeros(3), -F(3)), RuntimeError, "normal expects all elements of std >= 0.0"),
    ("multinomial", lambda: df.multinomial(T([0.0, 0.0]), 1), RuntimeError, "invalid multinomial distribution"),
    ("multinomial_replacement", lambda: df.multinomial(T([1.0, 2.0]), 3), RuntimeError,
     "cannot sample n_sample > prob_dist.size\\(-1\\) samples without replacement"),
    ("div_mode", lambda: df.div(F(2), 2, rounding_mode="x"), RuntimeError, "div expected rounding_mode to be one of"),
    ("clamp_none", lambda: df.clamp(F(2)), RuntimeError, "clamp: At least one of 'min' or 'max' must not be None"),
    ("device_string", lambda: F(3).to("xpu9"), RuntimeError, "Expected one of cpu, opencl device type at start of device string: xpu9"),
    ("cuda", lambda: F(3).cuda(), RuntimeError, "no CUDA backend"),
    ("setitem_shape", lambda: F(3).__setitem__(slice(None), F(2)), RuntimeError, "setitem"),
    ("arange_step", lambda: df.arange(0, 5, 0), RuntimeError, "step must be nonzero"),
    ("linalg_norm_3d", lambda: df.linalg.norm(F(2, 2, 2), 2), RuntimeError,
     "linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got 3D."),
    ("cross_dim", lambda: df.linalg.cross(F(4), F(4)), RuntimeError, "linalg.cross: inputs dimension -1 must have length 3"),
    ("mixed_devices", _mixed_devices, RuntimeError,
     r"Expected all tensors to be on the same device, but found at least two devices, cpu and opencl"),
]


@pytest.mark.parametrize("fn,exc,pattern", [pytest.param(f, e, p, id=n) for n, f, e, p in CASES])
def test_error(fn, exc, pattern):
    with pytest.raises(exc, match=pattern) as info:
        fn()
    assert type(info.value) is exc or exc is RuntimeError and isinstance(info.value, RuntimeError)


def test_errors_name_the_op():
    """Where PyTorch's wording does not say which op failed, deepforge's does."""
    for fn, op in [(lambda: F(3) - F(4), "sub"), (lambda: df.maximum(F(3), F(2)), "maximum"),
                   (lambda: F(3) < F(2), "lt"), (lambda: F(3).add_(F(2, 3)), "")]:
        with pytest.raises(RuntimeError) as info:
            fn()
        assert re.search(op, str(info.value))


# -- a failing op leaves its inputs unchanged -----------------------------------------------------
def _snapshot(*ts):
    return [(t.detach().numpy().copy(), t._version, t.shape, t.dtype) for t in ts]


FAILING_INPLACE = [
    ("add_broadcast", lambda x, y: x.add_(y.reshape(2, 3, 1)[..., 0].repeat(2, 1))),
    ("mul_cast", lambda x, y: x.long().mul_(y)),
    ("copy_shape", lambda x, y: x.copy_(df.ones(4, 3))),
    ("setitem_shape", lambda x, y: x.__setitem__(0, df.ones(5))),
    ("setitem_index", lambda x, y: x.__setitem__(df.tensor([0, 9]), 1.0)),
    ("index_add_", lambda x, y: x.index_add_(0, df.tensor([0, 7]), df.ones(2, 3))),
    ("scatter_", lambda x, y: x.scatter_(0, df.tensor([[0, 5, 0]]), 2.0)),
    ("masked_fill_", lambda x, y: x.masked_fill_(df.ones(2, 3), 1.0)),
    ("clamp_", lambda x, y: x.clamp_()),
    ("div_mode", lambda x, y: x.div_(y, rounding_mode="bad")),
    ("fill_", lambda x, y: x.fill_(df.ones(2))),
]


@pytest.mark.parametrize("fn", [pytest.param(f, id=n) for n, f in FAILING_INPLACE])
def test_failing_op_leaves_inputs_unchanged(fn):
    x = df.tensor(np.arange(6.0).reshape(2, 3), dtype=df.float32)
    y = df.tensor(np.full((2, 3), 2.5), dtype=df.float32)
    before = _snapshot(x, y)
    with pytest.raises((RuntimeError, IndexError, TypeError, ValueError)):
        fn(x, y)
    for (data, version, shape, dtype), t in zip(before, (x, y)):
        np.testing.assert_array_equal(t.numpy(), data)
        assert (t._version, t.shape, t.dtype) == (version, shape, dtype)


def test_failing_backward_leaves_grads_unchanged():
    x = df.tensor([1.0, 2.0], requires_grad=True)
    x.grad = df.tensor([5.0, 5.0])
    with pytest.raises(RuntimeError):
        (x * 2).backward(df.ones(3))
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0])
