// MPI (Open MPI or MPICH), for the optional multi-process build.
#ifndef CMPI_SHIM_H
#define CMPI_SHIM_H

#include <mpi.h>

// The predefined handles are macros that do not import into Swift (Open MPI:
// casts of global addresses; MPICH: MPI_SUM, MPI_IN_PLACE and friends). These
// accessors serve both implementations.
static inline MPI_Comm CMPI_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype CMPI_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype CMPI_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype CMPI_int32(void) { return MPI_INT32_T; }
static inline MPI_Datatype CMPI_byte(void) { return MPI_BYTE; }
static inline MPI_Op CMPI_bor(void) { return MPI_BOR; }
static inline void *CMPI_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Errhandler CMPI_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int CMPI_success(void) { return MPI_SUCCESS; }
static inline int CMPI_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline int CMPI_max_error_string(void) { return MPI_MAX_ERROR_STRING; }

#endif
