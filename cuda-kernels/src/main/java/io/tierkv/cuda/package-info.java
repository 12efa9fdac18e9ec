/** TierKV cuda. */
package io.tierkv.cuda;
