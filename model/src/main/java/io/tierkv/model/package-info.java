/** TierKV model. */
package io.tierkv.model;
