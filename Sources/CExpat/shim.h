#ifndef HEARSAY_CEXPAT_SHIM_H
#define HEARSAY_CEXPAT_SHIM_H

// expat.h declares the billion-laughs limits (Expat >= 2.4.0) only when XML_DTD is defined. The
// library is built with DTD support (Debian 12: 2.5.0, `nm -D libexpat.so.1` lists both
// functions), so declare them. Hearsay refuses any DOCTYPE anyway (XMLStreamParser); the limits
// are a second line.
#ifndef XML_DTD
#define XML_DTD 1
#endif

#include <expat.h>

// Expat >= 2.6.0 defers re-parsing a partial token until the buffer has doubled, which can hold
// back the last stanza of an interactive stream until more bytes come; Expat's changelog asks
// interactive (XMPP-like) users to turn it off. Earlier versions never defer: nothing to do.
static inline void hearsay_expat_disable_reparse_deferral(XML_Parser parser) {
#if XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 6)
    XML_SetReparseDeferralEnabled(parser, XML_FALSE);
#else
    (void)parser;
#endif
}

#endif
