/* sigint.c — Ctrl-C stops a run made from Python's main thread.
 *
 * Python's SIGINT handler only sets a flag that the main thread looks at
 * between bytecodes; a run executes no bytecode until it returns, so the
 * flag alone waits for the guest (forever, for a guest in a loop).  While
 * such a run is under way, vmpy's handler asks the machine to stop (atomic
 * stores, as stop() from another thread) and then calls Python's, so that
 * run() returns at the next block boundary and raises what Python's handler
 * raises (KeyboardInterrupt).  Ours is installed in place of Python's the
 * first time it is needed and stays: it chains to the handler it replaced,
 * and if Python installs a handler again (signal.signal), the next run puts
 * ours back in front of it.  With SIGINT at SIG_DFL or SIG_IGN nothing is
 * installed: the process dies or ignores it, as without vmpy.  A run on
 * another thread is left alone: KeyboardInterrupt goes to the main thread,
 * which can stop() it. */
#include "binding.h"

#include <signal.h>
#include <stdatomic.h>

static _Atomic(vm_machine *) sigint_target;
static struct sigaction python_action;      /* what ours chains to */
static unsigned long main_thread_ident;

static void on_sigint(int sig, siginfo_t *info, void *uctx)
{
    vm_machine *m = atomic_load(&sigint_target);
    if (m)
        vm_machine_stop(m);
    if (python_action.sa_flags & SA_SIGINFO)
        python_action.sa_sigaction(sig, info, uctx);
    else if (python_action.sa_handler != SIG_DFL && python_action.sa_handler != SIG_IGN)
        python_action.sa_handler(sig);
}

static int on_main_thread(void)
{
    if (!main_thread_ident) {
        PyObject *threading = PyImport_ImportModule("threading");
        PyObject *main = threading ? PyObject_CallMethod(threading, "main_thread", NULL) : NULL;
        PyObject *ident = main ? PyObject_GetAttrString(main, "ident") : NULL;
        if (ident)
            main_thread_ident = PyLong_AsUnsignedLong(ident);
        Py_XDECREF(ident);
        Py_XDECREF(main);
        Py_XDECREF(threading);
        if (PyErr_Occurred()) {         /* no Ctrl-C for this run, but no failure either */
            PyErr_Clear();
            main_thread_ident = 0;
            return 0;
        }
    }
    return PyThread_get_thread_ident() == main_thread_ident;
}

/* Puts ours in front of Python's handler unless it is there already;
 * false if SIGINT is not Python's to handle (SIG_DFL, SIG_IGN). */
static bool install(void)
{
    struct sigaction cur;
    if (sigaction(SIGINT, NULL, &cur) != 0)
        return false;
    if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_sigint)
        return true;
    if (!(cur.sa_flags & SA_SIGINFO) && (cur.sa_handler == SIG_DFL || cur.sa_handler == SIG_IGN))
        return false;
    /* Ours is not installed, so no handler of ours reads python_action now. */
    python_action = cur;
    struct sigaction ours = cur;
    ours.sa_flags = (cur.sa_flags | SA_SIGINFO) & ~SA_RESETHAND;
    ours.sa_sigaction = on_sigint;
    return sigaction(SIGINT, &ours, NULL) == 0;
}

/* Whether ours is installed, as last seen: a run checks it without a
 * system call (step() loops make many short runs), and long runs look
 * again every so many slices, for a handler signal.signal() put back. */
static bool installed;
static unsigned slices;

void vmpy_sigint_arm(vm_machine *m)
{
    if (!on_main_thread())
        return;
    if (!installed)
        installed = install();
    if (installed)
        atomic_store(&sigint_target, m);
}

void vmpy_sigint_slice(void)
{
    if (atomic_load(&sigint_target) && ++slices % 64 == 0)
        installed = install();
}

void vmpy_sigint_disarm(vm_machine *m)
{
    atomic_compare_exchange_strong(&sigint_target, &m, NULL);
}
