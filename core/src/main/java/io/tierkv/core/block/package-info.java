/** Block bookkeeping: from token levels to block levels, the unit the tier manager moves. */
package io.tierkv.core.block;
