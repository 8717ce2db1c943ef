/*
 * xml.h - a small, strict, non-validating XML reader for S3 responses and
 * bb-emu's request bodies (CompleteMultipartUpload), and an escaper for
 * writing XML text.
 *
 * The reader builds a tree of elements. It handles the XML declaration,
 * processing instructions and comments (skipped), CDATA sections, the five
 * predefined entities and character references (&#NN; &#xNN;), attributes,
 * and normalises line ends to "\n". It refuses DOCTYPE (so no entity
 * expansion can happen), invalid UTF-8, NUL bytes, mismatched or unclosed
 * tags, duplicate attributes, undefined entities, anything but comments,
 * processing instructions and white space around the one root element,
 * nesting deeper than BB_XML_MAX_DEPTH and input larger than
 * BB_XML_MAX_SIZE. Namespaces are not interpreted: a name is kept as
 * written, and lookups by a name without a prefix also match "p:name".
 *
 *   struct bb_xml *root;
 *   if (bb_xml_parse(body, len, &root, err) != 0) ...
 *   for (p = bb_xml_child(root, "Part"); p != NULL; p = bb_xml_next(p, "Part"))
 *           etag = bb_xml_child_text(p, "ETag");
 *   bb_xml_free(root);
 *
 * Ownership: the tree returned by bb_xml_parse() is freed with
 * bb_xml_free(); every pointer obtained from it lives as long as the tree.
 */
#ifndef BB_XML_H
#define BB_XML_H

#include <stddef.h>

#include "buf.h"
#include "error.h"

#define BB_XML_MAX_DEPTH 64
#define BB_XML_MAX_SIZE ((size_t)64 << 20)

struct bb_xml;

/* Parse a whole document; *root gets the root element. 0 or -1 (err kind
 * BB_ERR_INPUT, with the line and column). */
int bb_xml_parse(const char *text, size_t len, struct bb_xml **root, struct bb_error *err);
void bb_xml_free(struct bb_xml *root);

/* The element's name as written ("Error", "s3:Key"). */
const char *bb_xml_name(const struct bb_xml *node);
/* The decoded character data directly inside the element (CDATA included,
 * child elements' text not), NUL-terminated: "" when there is none. */
const char *bb_xml_text(const struct bb_xml *node);
size_t bb_xml_text_len(const struct bb_xml *node);
/* The decoded value of an attribute, or NULL. */
const char *bb_xml_attr(const struct bb_xml *node, const char *name);

/* First child element with that name (NULL name: any), or NULL. */
const struct bb_xml *bb_xml_child(const struct bb_xml *node, const char *name);
/* Next sibling element with that name (NULL name: any), or NULL. */
const struct bb_xml *bb_xml_next(const struct bb_xml *node, const char *name);
/* Text of the first child of that name, or NULL when there is none. */
const char *bb_xml_child_text(const struct bb_xml *node, const char *name);
/* Number of child elements with that name (NULL: all). */
size_t bb_xml_count(const struct bb_xml *node, const char *name);

/*
 * Append s[0..n) escaped for XML text or attribute values: & < > " ' as
 * entities, CR as &#13; (so it survives line-end normalisation), other
 * control characters as &#xN; (these are not XML 1.0 characters; S3 emits
 * them this way too). 0 or -1 (ENOMEM).
 */
int bb_xml_add_escaped(struct bb_buf *out, const char *s, size_t n);

#endif
