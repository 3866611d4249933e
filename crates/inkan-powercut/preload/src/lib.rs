//! `LD_PRELOAD=libinkan_powercut_preload.so`: `fsync` and `fdatasync` of the process first record
//! what they make durable under the watched directory (`inkan_powercut::on_sync`), then make the
//! real system call, or, with the planted bug (`INKAN_POWERCUT_DROP_SYNCS=1`), return success
//! without it. Nothing else of the process is touched.

use inkan_powercut::{Sync, on_sync};
use libc::{c_int, c_long};

/// The system call `number` on `fd`, as the C library's wrapper would make it.
fn sync_call(number: c_long, fd: c_int) -> c_int {
    // SAFETY: `fsync` and `fdatasync` take one integer argument and touch no memory of ours; an
    // invalid descriptor is answered with -1 and `errno`, as the wrapper we replace would.
    let result = unsafe { libc::syscall(number, fd) };
    result as c_int
}

/// Interposes the C library's `fsync`.
///
/// # Safety
/// Called by C code with any descriptor, as `fsync` is.
#[unsafe(no_mangle)]
pub extern "C" fn fsync(fd: c_int) -> c_int {
    match on_sync(fd) {
        Sync::Real => sync_call(libc::SYS_fsync, fd),
        Sync::Drop => 0,
    }
}

/// Interposes the C library's `fdatasync`.
#[unsafe(no_mangle)]
pub extern "C" fn fdatasync(fd: c_int) -> c_int {
    match on_sync(fd) {
        Sync::Real => sync_call(libc::SYS_fdatasync, fd),
        Sync::Drop => 0,
    }
}
