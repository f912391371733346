/* Copies and casts: dst = (DST) src over contiguous or strided operands, with broadcasting
 * (stride-0 source dims). Built per (-DSRC=<code>, -DDST=<code>); plain copies of one dtype
 * use the raw codes U8/U16/U32/U64 so four programs serve every same-dtype copy.
 * fill_c/fill_s store one raw bit pattern (raw codes only).
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

/* fills with a raw bit pattern of DST's size (the host builds them with the raw codes) */
#define RAW_T_1 uchar
#define RAW_T_2 ushort
#define RAW_T_4 uint
#define RAW_T_8 ulong
#define RAW_T DF_CAT(RAW_T_, DT_SIZE(DST))

__kernel void fill_c(const long n, __global RAW_T* dst, const long dofs, const RAW_T value) {
    FOR_RANGE(i, n) { dst[dofs + i] = value; }
}

/* operand 0: dst */
__kernel void fill_s(const Desc d, __global RAW_T* dst, const RAW_T value) {
    STRIDED_BEGIN(d)
    dst[p0] = value;
    STRIDED_END(d)
}
