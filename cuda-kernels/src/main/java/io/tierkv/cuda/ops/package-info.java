/**
 * The decoder's math on the GPU: {@link io.tierkv.cuda.ops.CudaLinear} (GEMV, GEMM),
 * {@link io.tierkv.cuda.ops.CudaDecoderOps} (RMSNorm, RoPE, SiLU*up, add, embedding),
 * {@link io.tierkv.cuda.ops.CudaPagedAttention} (paged decode attention with log-sum-exp, exact merge),
 * their launch geometry ({@link io.tierkv.cuda.ops.LaunchPlans}, pure Java) and the pure-Java oracle
 * ({@link io.tierkv.cuda.ops.ReferenceOps}) the conformance tests hold them to.
 */
package io.tierkv.cuda.ops;
