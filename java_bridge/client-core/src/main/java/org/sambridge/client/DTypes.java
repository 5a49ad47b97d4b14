package org.sambridge.client;

import org.sambridge.v1.DType;

/** Numpy names and element sizes of the wire {@link DType}s. */
public final class DTypes {
    private DTypes() {
    }

    /**
     * The numpy name of a dtype, as used in the content id (e.g. "uint16").
     *
     * @param dtype a wire dtype
     * @return the numpy name
     * @throws IllegalArgumentException for DTYPE_UNSPECIFIED or unknown values
     */
    public static String numpyName(DType dtype) {
        switch (dtype) {
            case UINT8: return "uint8";
            case UINT16: return "uint16";
            case UINT32: return "uint32";
            case UINT64: return "uint64";
            case INT8: return "int8";
            case INT16: return "int16";
            case INT32: return "int32";
            case INT64: return "int64";
            case FLOAT32: return "float32";
            case FLOAT64: return "float64";
            case BOOL: return "bool";
            default: throw new IllegalArgumentException("unsupported dtype " + dtype);
        }
    }

    /**
     * Bytes per element of a dtype.
     *
     * @param dtype a wire dtype
     * @return 1, 2, 4 or 8
     */
    public static int itemSize(DType dtype) {
        switch (dtype) {
            case UINT8: case INT8: case BOOL: return 1;
            case UINT16: case INT16: return 2;
            case UINT32: case INT32: case FLOAT32: return 4;
            case UINT64: case INT64: case FLOAT64: return 8;
            default: throw new IllegalArgumentException("unsupported dtype " + dtype);
        }
    }
}
