/** TierKV tiering. */
package io.tierkv.tiering;
