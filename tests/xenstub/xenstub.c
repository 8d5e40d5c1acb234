/*
 * xenstub.c - LD_PRELOAD object that lets Xen 4.17's C xenstored run without a hypervisor.
 *
 * xenstored (Debian xen-utils-4.17) calls libxenctrl, libxengnttab and libxenevtchn, which
 * all need the /dev/xen devices and a hypervisor. This object defines the handful of functions
 * it imports so the dynamic linker binds them here first, and redirects the two /proc/xen
 * files dom0_init() reads to plain files named by the harness (tests/xenstored.py):
 *
 *   BOOTSH_XSD_PORT_FILE  text file holding dom0's xenstore event channel, e.g. "1\n"
 *   BOOTSH_XSD_KVA_FILE   a file of one page (4096 zero bytes) mmap()ed as dom0's ring
 *
 * The prototypes are written out here rather than taken from libxen-dev so that only gcc is
 * needed; they match xenctrl.h, xengnttab.h and xenevtchn.h of Xen 4.17. The libraries'
 * symbols are versioned (VERS_1.0, VERS_4.17.0); an unversioned definition in a preloaded
 * object still satisfies a versioned reference, so no version script is needed.
 *
 * Build: gcc -shared -fPIC -O2 -o xenstub.so xenstub.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

/* Domain ids >= this are reserved (xen/xen.h). */
#define STUB_DOMID_FIRST_RESERVED 0x7FF0u
#define STUB_PAGE_SIZE 4096

typedef uint32_t evtchn_port_t;
typedef int xenevtchn_port_or_error_t;
struct xentoollog_logger;

/* ---- libxenctrl ------------------------------------------------------------------------- */

/* Opaque to the caller; any non-NULL pointer is a valid handle. */
typedef struct xc_interface_core {
    int unused;
} xc_interface;

static xc_interface stub_xc;

/*
 * Leading fields of xc_dominfo_t (xenctrl.h, 4.17). xenstored only reads domid, dying,
 * crashed and shutdown; the rest of the caller's struct is left untouched because its full
 * size depends on arch headers we do not include.
 */
struct stub_dominfo_head {
    uint32_t domid;
    uint32_t ssidref;
    unsigned int dying : 1, crashed : 1, shutdown : 1, paused : 1, blocked : 1, running : 1,
        hvm : 1, debugged : 1, xenstore : 1, hap : 1;
    unsigned int shutdown_reason;
};

xc_interface *xc_interface_open(struct xentoollog_logger *logger,
                                struct xentoollog_logger *dombuild_logger,
                                unsigned open_flags)
{
    (void)logger;
    (void)dombuild_logger;
    (void)open_flags;
    return &stub_xc;
}

int xc_interface_close(xc_interface *xch)
{
    (void)xch;
    return 0;
}

/*
 * Every ordinary domid "exists" and is running. xenstored asks whether a domain exists when a
 * permission or node owner names it (domain_alloc_permrefs); answering yes keeps permissions
 * for guests that were never introduced, as libxl's layout needs.
 */
int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid, unsigned int max_doms,
                      void *info)
{
    struct stub_dominfo_head *head = info;

    (void)xch;
    if (max_doms == 0 || first_domid >= STUB_DOMID_FIRST_RESERVED)
        return 0;
    memset(head, 0, sizeof(*head));
    head->domid = first_domid;
    head->running = 1;
    head->hvm = 1;
    return 1;
}

/* ---- libxengnttab ----------------------------------------------------------------------- */

typedef struct xengntdev_handle {
    int unused;
} xengnttab_handle;

static xengnttab_handle stub_gnttab;

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger, unsigned open_flags)
{
    (void)logger;
    (void)open_flags;
    return &stub_gnttab;
}

int xengnttab_close(xengnttab_handle *xgt)
{
    (void)xgt;
    return 0;
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
    (void)xgt;
    (void)nr_grants;
    return 0;
}

/*
 * The ring page of an introduced guest: real, zeroed, writable memory, so xenstored sees an
 * empty ring (req_cons == req_prod) and never reads garbage.
 */
void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid, uint32_t ref, int prot)
{
    void *addr;

    (void)xgt;
    (void)domid;
    (void)ref;
    addr = mmap(NULL, STUB_PAGE_SIZE, prot | PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return addr == MAP_FAILED ? NULL : addr;
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
    (void)xgt;
    return munmap(start_address, (size_t)count * STUB_PAGE_SIZE);
}

/* ---- libxenevtchn ----------------------------------------------------------------------- */

typedef struct xenevtchn_handle {
    int fd;                  /* an eventfd: poll() accepts it and it never fires by itself */
    evtchn_port_t next_port; /* local ports handed out by the bind calls */
    evtchn_port_t virq_port;
} xenevtchn_handle;

static xenevtchn_handle *stub_evtchn_new(int fd)
{
    xenevtchn_handle *xce = calloc(1, sizeof(*xce));

    if (!xce)
        return NULL;
    xce->fd = fd;
    xce->next_port = 1;
    return xce;
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger, unsigned int flags)
{
    xenevtchn_handle *xce;
    int fd;

    (void)logger;
    /* XENEVTCHN_NO_CLOEXEC (bit 0) asks for an inheritable fd (live update). */
    fd = eventfd(0, EFD_NONBLOCK | ((flags & 1u) ? 0 : EFD_CLOEXEC));
    if (fd < 0)
        return NULL;
    xce = stub_evtchn_new(fd);
    if (!xce)
        close(fd);
    return xce;
}

xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger, int fd,
                                   unsigned open_flags)
{
    (void)logger;
    (void)open_flags;
    return stub_evtchn_new(fd);
}

int xenevtchn_close(xenevtchn_handle *xce)
{
    if (!xce)
        return 0;
    close(xce->fd);
    free(xce);
    return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
    return xce->fd;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
    (void)xce;
    (void)port;
    return 0;
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
                                                     evtchn_port_t remote_port)
{
    (void)domid;
    (void)remote_port;
    return (xenevtchn_port_or_error_t)xce->next_port++;
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce, unsigned int virq)
{
    (void)virq;
    xce->virq_port = xce->next_port++;
    return (xenevtchn_port_or_error_t)xce->virq_port;
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
    (void)xce;
    (void)port;
    return 0;
}

/*
 * Only reached if the eventfd was signalled (nothing does today). Drain it and report the
 * VIRQ_DOM_EXC port, which makes xenstored rescan domains: harmless, since all exist.
 */
xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
    uint64_t count;

    if (read(xce->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
        return -1;
    if (!xce->virq_port) {
        errno = EAGAIN;
        return -1;
    }
    return (xenevtchn_port_or_error_t)xce->virq_port;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
    (void)xce;
    (void)port;
    return 0;
}

/* ---- /proc/xen/xsd_port and /proc/xen/xsd_kva -------------------------------------------- */

/* Returns the harness's replacement for a /proc/xen file, or the path itself. */
static const char *stub_redirect(const char *path)
{
    const char *alt = NULL;

    if (!path)
        return path;
    if (strcmp(path, "/proc/xen/xsd_port") == 0)
        alt = getenv("BOOTSH_XSD_PORT_FILE");
    else if (strcmp(path, "/proc/xen/xsd_kva") == 0)
        alt = getenv("BOOTSH_XSD_KVA_FILE");
    return (alt && *alt) ? alt : path;
}

/* open(2) takes a mode only with O_CREAT or O_TMPFILE. */
#define STUB_NEEDS_MODE(flags) \
    (((flags) & O_CREAT) != 0 || ((flags) & O_TMPFILE) == O_TMPFILE)

typedef int (*stub_open_fn)(const char *, int, ...);
typedef int (*stub_openat_fn)(int, const char *, int, ...);

static void *stub_next(const char *name)
{
    void *fn = dlsym(RTLD_NEXT, name);

    if (!fn)
        abort(); /* no libc below us: nothing sensible to do */
    return fn;
}

int open(const char *path, int flags, ...)
{
    static stub_open_fn real;
    mode_t mode = 0;

    if (STUB_NEEDS_MODE(flags)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    if (!real)
        real = (stub_open_fn)stub_next("open");
    return real(stub_redirect(path), flags, mode);
}

int open64(const char *path, int flags, ...)
{
    static stub_open_fn real;
    mode_t mode = 0;

    if (STUB_NEEDS_MODE(flags)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    if (!real)
        real = (stub_open_fn)stub_next("open64");
    return real(stub_redirect(path), flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    static stub_openat_fn real;
    mode_t mode = 0;

    if (STUB_NEEDS_MODE(flags)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    if (!real)
        real = (stub_openat_fn)stub_next("openat");
    return real(dirfd, stub_redirect(path), flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    static stub_openat_fn real;
    mode_t mode = 0;

    if (STUB_NEEDS_MODE(flags)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    if (!real)
        real = (stub_openat_fn)stub_next("openat64");
    return real(dirfd, stub_redirect(path), flags, mode);
}
