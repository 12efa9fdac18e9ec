/** File output that survives a crash: every result file is written under a temporary name and moved into place. */
package io.tierkv.core.io;
