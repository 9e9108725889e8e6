/* SPDX-License-Identifier: LGPL-2.1-only */
/* XenBus device states, with Xen's values (public/io/xenbus.h). */
#ifndef XENSHM_XENBUS_H
#define XENSHM_XENBUS_H

enum { XB_UNKNOWN, XB_INITIALISING, XB_INITWAIT, XB_INITIALISED, XB_CONNECTED, XB_CLOSING,
       XB_CLOSED, XB_RECONFIGURING, XB_RECONFIGURED };

#endif
