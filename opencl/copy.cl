/* Copies and casts: dst = (DST) src over contiguous or strided operands, with broadcasting
 * (stride-0 source dims). Built per (-DSRC=<code>, -DDST=<code>); plain copies of one dtype
 * use the raw codes U8/U16/U32/U64 so four programs serve every same-dtype copy.
 * Conversions follow numpy: float -> integer truncates through long, anything -> bool is
 * "!= 0", float -> half rounds to nearest even from the widest available type.
 */
#include "common.h"

#define S_T DT_TYPE(SRC)
#define D_T DT_TYPE(DST)

__kernel void cast_c(const long n, __global D_T* dst, const long dofs, __global const S_T* src,
                     const long sofs) {
    FOR_RANGE(i, n) { DT_ST(DST)(dst, dofs + i, DT_LD(SRC)(src, sofs + i)); }
}

/* operands: 0 dst, 1 src */
__kernel void cast_s(const Desc d, __global D_T* dst, __global const S_T* src) {
    STRIDED_BEGIN(d)
    DT_ST(DST)(dst, p0, DT_LD(SRC)(src, p1));
    STRIDED_END(d)
}
