/* Scans along one axis: cumsum, cumprod (accumulated in ACC) and cummax/cummin (values and
 * the index of the latest extreme; NaN, once seen, sticks and takes the latest NaN's index).
 * Build options: -DTIN=<code> -DTOUT=<code> -DACC=<F32|F64|I64>.
 * One work-item per line; a Desc over the lines gives base offsets of operands 0 out, 1 x,
 * 2 indices out; the axis has length n and strides so (out and indices) and sx.
 * op: 0 cumsum, 1 cumprod, 2 cummax, 3 cummin
 */
#include "common.h"

#define XT DT_TYPE(TIN)
#define XC DT_C(TIN)
#define OT DT_TYPE(TOUT)
#define AT DT_TYPE(ACC)
#define LDX(p, i) DT_LD(TIN)(p, i)
#define STO(p, i, v) DT_ST(TOUT)(p, i, v)

__kernel void scan_lines(const Desc d, const long n, const long so, const long sx,
                         __global OT* out, __global const XT* x, __global long* iout,
                         const int op) {
    STRIDED_BEGIN(d)
    if (op == 0) {
        AT acc = (AT)0;
        for (long k = 0; k < n; ++k) {
            acc += (AT)LDX(x, p1 + k * sx);
            STO(out, p0 + k * so, acc);
        }
    } else if (op == 1) {
        AT acc = (AT)1;
        for (long k = 0; k < n; ++k) {
            acc *= (AT)LDX(x, p1 + k * sx);
            STO(out, p0 + k * so, acc);
        }
    } else {
        XC best = (XC)0;
        long bi = 0;
        for (long k = 0; k < n; ++k) {
            const XC v = LDX(x, p1 + k * sx);
            int take;
            if (k == 0) {
                take = 1;
            } else {
#if DT_IS_FLOAT(TIN)
                if (isnan(best)) take = isnan(v);
                else if (isnan(v)) take = 1;
                else
#endif
                take = (op == 2) ? (v >= best) : (v <= best);
            }
            if (take) {
                best = v;
                bi = k;
            }
            STO(out, p0 + k * so, best);
            iout[p2 + k * so] = bi;
        }
    }
    STRIDED_END(d)
}
