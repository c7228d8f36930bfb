/** Libellula's version, reported in builds and host announcements. */
export const VERSION = "0.1.0";
